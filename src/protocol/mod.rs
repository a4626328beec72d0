//! Wire formats, one module per protocol family: pure decoders and the translation
//! of each format into `model`, and the message types generated from `proto/`.
//!
//! Nothing here opens a socket or names a transport's status type: the listeners in
//! `receiver` and the query API's `/api/transform` both call into these modules, so
//! they sit below both.

mod file;
pub mod jaeger;
pub mod otlp;
pub mod zipkin;

pub use file::{decode_json_file, FileError};

use crate::model::Span;

/// The encoded `FileDescriptorSet` of every vendored proto and its imports, for
/// gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// The service name given to spans whose resource names none.
pub const MISSING_SERVICE_NAME: &str = "missing-service-name";
/// The service name given to spans whose resource names an empty service.
pub const EMPTY_SERVICE_NAME: &str = "empty-service-name";
/// The service name given when `service.name` is not a string.
pub const WRONG_TYPE_SERVICE_NAME: &str = "service-name-wrong-type";
/// The operation name given to spans without one.
pub const EMPTY_SPAN_NAME: &str = "empty-span-name";

/// The outcome of translating one request: the spans that are well-formed, and how
/// many were rejected (with the first reason, for the client's error message).
#[derive(Debug, Default)]
pub struct Converted {
    pub spans: Vec<Span>,
    pub num_rejected: u64,
    /// The first rejection reason, for the client's error message.
    pub first_error: Option<String>,
}

impl Converted {
    pub fn first_error_message(&self) -> String {
        self.first_error
            .clone()
            .unwrap_or_else(|| "no spans were accepted".to_owned())
    }

    pub(crate) fn reject(&mut self, reason: String) {
        self.num_rejected += 1;
        self.first_error.get_or_insert(reason);
    }
}
