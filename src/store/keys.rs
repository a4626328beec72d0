//! The on-disk key layout. Integers are big-endian so byte order equals numeric order.
//!
//! One sled tree per ingest hour, named `part-<unix hour, 10 digits>`, holds the
//! metadata of that hour's blocks; the blocks themselves are in the hour's segment
//! file (see `segment`):
//!
//! ```text
//!   M seq[8]                 → codec::BlockMeta (segment offset, length and CRC-32,
//!                              time range, services, operations, edges, and the
//!                              block's trace-ID prefixes)
//! ```
//!
//! There is deliberately no key per trace. The trace index is the sorted list of
//! 8-byte trace-ID prefixes in each block's meta, held in memory (8 bytes per trace
//! and block): one sled key per trace meant thousands of random-key inserts per
//! block, and sled's log-structured pages turned those into ~500 bytes of disk per
//! key, more than the compressed spans themselves. Blocks stay out of sled because
//! sled keeps the values it writes in memory: RSS grew with the store.
//!
//! A meta is written only after its block is fsynced, so after a crash a block is
//! either fully indexed or absent. Expiring an hour is one `drop_tree` and one file
//! deletion, with no per-key deletes.
//!
//! The `catalog` tree names services and operations once, with dense ids that block
//! metadata refers to:
//!
//! ```text
//!   S service_name                          → service_id[4]
//!   O service_id[4] kind[1] operation_name  → operation_id[4]
//! ```
//!
//! The `sampling` tree holds adaptive sampling's probabilities (see `sampling.rs`).
//!
//! Block sequence numbers are global and increase across partitions, so a restart
//! continues from the highest `M` key found.

pub(super) const PARTITION_PREFIX: &str = "part-";
pub(super) const CATALOG_TREE: &str = "catalog";

pub(super) const META: u8 = b'M';
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
        assert!(block_key(META, 255) < block_key(META, 256));
        assert_eq!(
            parse_partition_tree_name(partition_tree_name(493_000).as_bytes()),
            Some(493_000)
        );
        assert_eq!(parse_partition_tree_name(b"catalog"), None);
        assert!(partition_tree_name(9) < partition_tree_name(10));
    }
}
