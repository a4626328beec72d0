//! The on-disk key layout. Integers are big-endian so byte order equals numeric order.
//!
//! One sled tree per ingest hour, named `part-<unix hour, 10 digits>`, holds that hour's data:
//!
//! ```text
//!   B seq[8]                 → codec block: version byte + zstd(many traces' spans)
//!   M seq[8]                 → codec::BlockMeta (time range, services, operations, edges)
//!   T trace_id[16] seq[8]    → ()   which blocks of this hour hold spans of the trace
//! ```
//!
//! A block, its meta and its trace keys are written with one `apply_batch`, which sled
//! applies atomically: after a crash a block is either fully indexed or absent.
//! Expiring an hour is one `drop_tree`, with no per-key deletes.
//!
//! The `catalog` tree names services and operations once, with dense ids that block
//! metadata refers to:
//!
//! ```text
//!   S service_name                          → service_id[4]
//!   O service_id[4] kind[1] operation_name  → operation_id[4]
//! ```
//!
//! Block sequence numbers are global and increase across partitions, so a restart
//! continues from the highest `M` key found.

pub(super) const PARTITION_PREFIX: &str = "part-";
pub(super) const CATALOG_TREE: &str = "catalog";

pub(super) const BLOCK: u8 = b'B';
pub(super) const META: u8 = b'M';
pub(super) const TRACE: u8 = b'T';
pub(super) const SERVICE: u8 = b'S';
pub(super) const OPERATION: u8 = b'O';

pub(super) fn partition_tree_name(hour: u32) -> String {
    format!("{PARTITION_PREFIX}{hour:010}")
}

pub(super) fn parse_partition_tree_name(name: &[u8]) -> Option<u32> {
    std::str::from_utf8(name)
        .ok()?
        .strip_prefix(PARTITION_PREFIX)?
        .parse()
        .ok()
}

pub(super) fn block_key(kind: u8, seq: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = kind;
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

pub(super) fn trace_key(trace_id: &[u8; 16], seq: u64) -> [u8; 25] {
    let mut key = [0u8; 25];
    key[0] = TRACE;
    key[1..17].copy_from_slice(trace_id);
    key[17..].copy_from_slice(&seq.to_be_bytes());
    key
}

pub(super) fn trace_prefix(trace_id: &[u8; 16]) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = TRACE;
    key[1..].copy_from_slice(trace_id);
    key
}

pub(super) fn seq_from_key(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

pub(super) fn service_key(service: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + service.len());
    key.push(SERVICE);
    key.extend_from_slice(service.as_bytes());
    key
}

pub(super) fn operation_key(service_id: u32, kind: u8, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(6 + name.len());
    key.push(OPERATION);
    key.extend_from_slice(&service_id.to_be_bytes());
    key.push(kind);
    key.extend_from_slice(name.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_numerically_and_round_trip() {
        assert!(block_key(BLOCK, 255) < block_key(BLOCK, 256));
        assert_eq!(seq_from_key(&block_key(META, 42)), Some(42));
        assert_eq!(seq_from_key(&trace_key(&[7; 16], 9)), Some(9));
        assert!(trace_key(&[7; 16], 9).starts_with(&trace_prefix(&[7; 16])));
        assert_eq!(
            parse_partition_tree_name(partition_tree_name(493_000).as_bytes()),
            Some(493_000)
        );
        assert_eq!(parse_partition_tree_name(b"catalog"), None);
        assert!(partition_tree_name(9) < partition_tree_name(10));
    }
}
