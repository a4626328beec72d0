//! Wire formats, one module per protocol family: generated message types, pure
//! decoders and translation into `model`. No sockets here; listeners live in
//! `receiver` (ingest), `api` (query) and `sampling`.

pub mod jaeger;
