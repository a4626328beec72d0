//! Trace and span identifiers, with Jaeger's hex formatting rules.

use std::fmt;

/// A 128-bit trace ID. The all-zero ID is invalid in OTLP and never stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// A 64-bit span ID. The all-zero ID means "no span".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdParseError {
    #[error("expected 1 to {max} hex digits, got {len} characters")]
    BadLength { max: usize, len: usize },
    #[error("`{0}` is not a hex digit")]
    NotHex(char),
    #[error("an all-zero id is not valid")]
    Zero,
}

impl TraceId {
    pub fn from_bytes(bytes: &[u8]) -> Option<TraceId> {
        let array: [u8; 16] = bytes.try_into().ok()?;
        (array != [0; 16]).then_some(TraceId(array))
    }

    /// Parses hex the way Jaeger does: case-insensitive, at most 32 digits,
    /// and leading zeros may be left out (`abc` means `0…0abc`).
    pub fn from_hex(text: &str) -> Result<TraceId, IdParseError> {
        let mut bytes = [0u8; 16];
        parse_padded_hex(text, &mut bytes)?;
        if bytes == [0; 16] {
            return Err(IdParseError::Zero);
        }
        Ok(TraceId(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Jaeger's rendering: 16 digits when the high 64 bits are zero, else 32.
    pub fn to_jaeger_hex(&self) -> String {
        if self.0[..8] == [0; 8] {
            hex::encode(&self.0[8..])
        } else {
            hex::encode(self.0)
        }
    }

    /// Always 32 lower-case digits, as OTLP/JSON and api_v3 write it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl SpanId {
    pub fn from_bytes(bytes: &[u8]) -> Option<SpanId> {
        let array: [u8; 8] = bytes.try_into().ok()?;
        (array != [0; 8]).then_some(SpanId(array))
    }

    pub fn from_hex(text: &str) -> Result<SpanId, IdParseError> {
        let mut bytes = [0u8; 8];
        parse_padded_hex(text, &mut bytes)?;
        if bytes == [0; 8] {
            return Err(IdParseError::Zero);
        }
        Ok(SpanId(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

fn parse_padded_hex(text: &str, out: &mut [u8]) -> Result<(), IdParseError> {
    let max = out.len() * 2;
    if text.is_empty() || text.len() > max {
        return Err(IdParseError::BadLength {
            max,
            len: text.chars().count(),
        });
    }
    let offset = max - text.len();
    for (index, ch) in text.chars().enumerate() {
        let nibble = ch.to_digit(16).ok_or(IdParseError::NotHex(ch))? as u8;
        let position = offset + index;
        out[position / 2] |= if position.is_multiple_of(2) {
            nibble << 4
        } else {
            nibble
        };
    }
    Ok(())
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.to_hex())
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_jaeger_hex())
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({})", self.to_hex())
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Result<&str, IdParseError>) {
        let parsed = TraceId::from_hex(input).map(|id| id.to_jaeger_hex());
        assert_eq!(parsed, expected.map(str::to_owned));
    }

    #[test]
    fn trace_id_hex_follows_jaeger() {
        check("abc", Ok("0000000000000abc"));
        check(
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            Ok("4bf92f3577b34da6a3ce929d0e0e4736"),
        );
        check("00000000000000000000000000000001", Ok("0000000000000001"));
        check(
            "0000000000000001ffffffffffffffff",
            Ok("0000000000000001ffffffffffffffff"),
        );
        check("", Err(IdParseError::BadLength { max: 32, len: 0 }));
        check("0", Err(IdParseError::Zero));
        check("xyz", Err(IdParseError::NotHex('x')));
        check(
            &"1".repeat(33),
            Err(IdParseError::BadLength { max: 32, len: 33 }),
        );
    }

    #[test]
    fn span_id_round_trips() {
        let id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        assert_eq!(id.to_hex(), "00f067aa0ba902b7");
        assert_eq!(SpanId::from_bytes(&[0; 8]), None);
        assert_eq!(SpanId::from_bytes(&[1; 7]), None);
    }
}
