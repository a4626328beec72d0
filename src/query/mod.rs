//! Search and trace assembly over the store.
//!
//! Stub until the query service lands on main; only the tree builder lives here so far.

pub(crate) mod tree;
