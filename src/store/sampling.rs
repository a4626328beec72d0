//! Adaptive sampling's probabilities, kept in the `sampling` tree so they survive
//! restarts:
//!
//! ```text
//!   service \0 operation → version[1] probability[8, f64 big-endian]
//! ```

use super::{Store, StoreError};

const SAMPLING_TREE: &str = "sampling";
const VERSION: u8 = 1;

/// One stored row: `(service, operation, probability)`; the probability is a number
/// in [0, 1].
pub(crate) fn decode_row(key: &[u8], value: &[u8]) -> Result<(String, String, f64), StoreError> {
    let Some(split) = key.iter().position(|&byte| byte == 0) else {
        return Err(StoreError::Corrupt("sampling key without separator"));
    };
    let service = String::from_utf8_lossy(&key[..split]).into_owned();
    let operation = String::from_utf8_lossy(&key[split + 1..]).into_owned();
    let probability = match value {
        [VERSION, rest @ ..] if rest.len() == 8 => {
            let mut bytes = [0_u8; 8];
            bytes.copy_from_slice(rest);
            f64::from_be_bytes(bytes)
        }
        _ => return Err(StoreError::Corrupt("sampling probability value")),
    };
    // NaN would pass the sampler's clamp and be served to SDKs as `null`.
    if !(0.0..=1.0).contains(&probability) {
        return Err(StoreError::Corrupt("sampling probability is not in [0, 1]"));
    }
    Ok((service, operation, probability))
}

impl Store {
    /// Every stored (service, operation, probability). A damaged row is logged,
    /// removed and left out: adaptive sampling learns that operation's probability
    /// again, where refusing it would keep the server from starting.
    pub fn sampling_probabilities(&self) -> Result<Vec<(String, String, f64)>, StoreError> {
        let tree = self.inner.db.open_tree(SAMPLING_TREE)?;
        let mut found = Vec::new();
        for entry in tree.iter() {
            let (key, value) = entry?;
            match decode_row(&key, &value) {
                Ok(row) => found.push(row),
                Err(error) => {
                    tracing::warn!(
                        key = %String::from_utf8_lossy(&key).replace('\0', " / "),
                        %error,
                        "dropping a damaged adaptive sampling row; its probability is learned again"
                    );
                    tree.remove(&key)?;
                }
            }
        }
        Ok(found)
    }

    /// Writes the given probabilities (others stay) and flushes them to disk.
    pub fn save_sampling_probabilities(
        &self,
        entries: &[(String, String, f64)],
    ) -> Result<(), StoreError> {
        let tree = self.inner.db.open_tree(SAMPLING_TREE)?;
        let mut batch = sled::Batch::default();
        for (service, operation, probability) in entries {
            let mut key = Vec::with_capacity(service.len() + operation.len() + 1);
            key.extend_from_slice(service.as_bytes());
            key.push(0);
            key.extend_from_slice(operation.as_bytes());
            let mut value = Vec::with_capacity(9);
            value.push(VERSION);
            value.extend_from_slice(&probability.to_be_bytes());
            batch.insert(key, value);
        }
        tree.apply_batch(batch)?;
        tree.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_row_is_dropped_and_the_others_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = crate::config::Config::for_data_dir(dir.path());
        let store = Store::open(&config.store).expect("store opens");
        store
            .save_sampling_probabilities(&[
                ("cart".into(), "GET /cart".into(), 0.25),
                ("shop".into(), "checkout".into(), 1.0),
            ])
            .unwrap();
        let tree = store.inner.db.open_tree(SAMPLING_TREE).unwrap();
        tree.insert(b"cart\0torn", &[VERSION, 1, 2][..]).unwrap();
        tree.insert(b"no separator", &[VERSION; 9][..]).unwrap();
        let mut nan = vec![VERSION];
        nan.extend_from_slice(&f64::NAN.to_be_bytes());
        tree.insert(b"cart\0nan", nan).unwrap();
        let loaded = store.sampling_probabilities().unwrap();
        assert_eq!(
            loaded,
            vec![
                ("cart".to_owned(), "GET /cart".to_owned(), 0.25),
                ("shop".to_owned(), "checkout".to_owned(), 1.0),
            ]
        );
        assert_eq!(tree.len(), 2, "the damaged rows are gone");
    }
}
