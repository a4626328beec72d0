//! How OTLP/JSON reads each kind of field, as `deserialize_with` helpers for the
//! DTOs in the parent module: strings, nested messages (`optional`, `repeated`),
//! hex IDs, enums, integers, doubles and base64 bytes. Every helper maps `null`
//! to the proto default, as proto3 JSON requires, and names the bad value in its
//! error.

use std::fmt;
use std::marker::PhantomData;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as OtlpSpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;
use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// A prost message and the DTO it is decoded through, so that `repeated` and
/// `optional` can convert each element as soon as it has been parsed.
pub(super) trait HasDto: Sized {
    type Dto: DeserializeOwned + Into<Self>;
}

/// A string field.
pub(super) fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

/// A singular message field.
pub(super) fn optional<'de, D: Deserializer<'de>, T: HasDto>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Ok(Option::<ObjectOnly<T::Dto>>::deserialize(deserializer)?.map(|ObjectOnly(dto)| dto.into()))
}

/// A repeated message field, converted element by element.
pub(super) fn repeated<'de, D: Deserializer<'de>, T: HasDto>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    deserializer.deserialize_any(RepeatedVisitor(PhantomData))
}

struct RepeatedVisitor<T>(PhantomData<T>);

impl<'de, T: HasDto> Visitor<'de> for RepeatedVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(ObjectOnly(dto)) = seq.next_element::<ObjectOnly<T::Dto>>()? {
            items.push(dto.into());
        }
        Ok(items)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }
}

/// A message DTO that must be a JSON object. Derived struct impls also accept a
/// JSON array holding the fields in order, which proto3 JSON does not allow and
/// which would let a body of `[]` pass as an empty request.
pub(super) struct ObjectOnly<T>(pub(super) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(AsMap(deserializer)).map(ObjectOnly)
    }
}

/// Reads whatever is asked for as a map, so that anything but an object is an error.
pub(super) struct AsMap<D>(pub(super) D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for AsMap<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// Trace IDs are 32 hex digits in OTLP/JSON (not base64, unlike proto3 JSON).
pub(super) fn trace_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_any(HexIdVisitor {
        what: "trace id",
        num_bytes: 16,
    })
}

pub(super) fn span_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_any(HexIdVisitor {
        what: "span id",
        num_bytes: 8,
    })
}

pub(super) fn parent_span_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_any(HexIdVisitor {
        what: "parent span id",
        num_bytes: 8,
    })
}

/// Decodes a hex ID of exactly `num_bytes` bytes, or the empty string as no bytes.
struct HexIdVisitor {
    what: &'static str,
    num_bytes: usize,
}

impl<'de> Visitor<'de> for HexIdVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "a {} of {} hex digits",
            self.what,
            2 * self.num_bytes
        )
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
        let mut bytes = vec![0; self.num_bytes];
        if text.is_empty() {
            bytes.clear();
            return Ok(bytes);
        }
        if hex::decode_to_slice(text, &mut bytes).is_ok() {
            return Ok(bytes);
        }
        // proto3 JSON would use base64 for bytes, so some encoders get this wrong.
        let hint = if decode_base64(text).is_ok_and(|decoded| decoded.len() == self.num_bytes) {
            ", not base64"
        } else {
            ""
        };
        Err(E::custom(format_args!(
            "invalid {} {} (expected {} hex digits{hint})",
            self.what,
            quoted(text),
            2 * self.num_bytes
        )))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<u8>, E> {
        Ok(Vec::new())
    }
}

pub(super) fn span_kind<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    deserializer.deserialize_any(EnumVisitor {
        what: "span kind",
        name_prefix: "SPAN_KIND_",
        from_name: |name| OtlpSpanKind::from_str_name(name).map(|kind| kind as i32),
    })
}

pub(super) fn status_code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    deserializer.deserialize_any(EnumVisitor {
        what: "status code",
        name_prefix: "STATUS_CODE_",
        from_name: |name| OtlpStatusCode::from_str_name(name).map(|code| code as i32),
    })
}

/// An enum by its proto name or by number. Unknown numbers are kept, as proto3
/// enums are open; unknown names are an error.
struct EnumVisitor {
    what: &'static str,
    name_prefix: &'static str,
    from_name: fn(&str) -> Option<i32>,
}

impl<'de> Visitor<'de> for EnumVisitor {
    type Value = i32;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "a {} as a {}* name or a number",
            self.what, self.name_prefix
        )
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<i32, E> {
        i32::try_from(number)
            .map_err(|_| E::custom(format_args!("{} {number} is out of range", self.what)))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<i32, E> {
        i32::try_from(number)
            .map_err(|_| E::custom(format_args!("{} {number} is out of range", self.what)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<i32, E> {
        // A number in a string is not standard, but harmless to accept.
        (self.from_name)(text)
            .or_else(|| text.parse().ok())
            .ok_or_else(|| {
                E::custom(format_args!(
                    "unknown {} {} (expected a {}* name or a number)",
                    self.what,
                    quoted(text),
                    self.name_prefix
                ))
            })
    }

    fn visit_unit<E: de::Error>(self) -> Result<i32, E> {
        Ok(0)
    }
}

/// An integer field: a JSON number or a string holding one. Exponents and a
/// zero fraction (`1e3`, `"5.0"`) are accepted, as proto3 JSON allows.
pub(super) fn integer<'de, D: Deserializer<'de>, T: ProtoInteger>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_any(IntegerVisitor(PhantomData))
}

pub(super) trait ProtoInteger: Default + TryFrom<i128> {
    /// The proto type, for error messages.
    const PROTO_TYPE: &'static str;
}

impl ProtoInteger for u32 {
    const PROTO_TYPE: &'static str = "uint32";
}

impl ProtoInteger for u64 {
    const PROTO_TYPE: &'static str = "uint64";
}

impl ProtoInteger for i64 {
    const PROTO_TYPE: &'static str = "int64";
}

struct IntegerVisitor<T>(PhantomData<T>);

impl<T: ProtoInteger> IntegerVisitor<T> {
    fn in_range<E: de::Error>(number: i128) -> Result<T, E> {
        T::try_from(number).map_err(|_| {
            E::custom(format_args!(
                "{number} is out of range for {}",
                T::PROTO_TYPE
            ))
        })
    }
}

impl<'de, T: ProtoInteger> Visitor<'de> for IntegerVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "a {} as a number or a string", T::PROTO_TYPE)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<T, E> {
        Self::in_range(i128::from(number))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<T, E> {
        Self::in_range(i128::from(number))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<T, E> {
        let integer = integral(number)
            .ok_or_else(|| E::custom(format_args!("invalid {} {number}", T::PROTO_TYPE)))?;
        Self::in_range(integer)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        let integer = text
            .parse::<i128>()
            .ok()
            .or_else(|| text.parse::<f64>().ok().and_then(integral))
            .ok_or_else(|| E::custom(format_args!("invalid {} {}", T::PROTO_TYPE, quoted(text))))?;
        Self::in_range(integer)
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

/// The integer a whole, finite float stands for; out-of-range values saturate
/// and are then rejected by the range check.
fn integral(number: f64) -> Option<i128> {
    (number.is_finite() && number.trunc() == number).then_some(number as i128)
}

/// AnyValue's `intValue`.
pub(super) struct Int64(pub(super) i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        integer(deserializer).map(Int64)
    }
}

/// AnyValue's `doubleValue`: a number, or "NaN", "Infinity", "-Infinity".
pub(super) struct Double(pub(super) f64);

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DoubleVisitor).map(Double)
    }
}

struct DoubleVisitor;

impl<'de> Visitor<'de> for DoubleVisitor {
    type Value = f64;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(r#"a double as a number, "NaN", "Infinity" or "-Infinity""#)
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<f64, E> {
        Ok(number)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<f64, E> {
        Ok(number as f64)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<f64, E> {
        Ok(number as f64)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<f64, E> {
        match text {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            // Rust would also read "inf" and "nan"; proto3 JSON only has the names above.
            _ => text
                .parse::<f64>()
                .ok()
                .filter(|number| number.is_finite())
                .ok_or_else(|| E::custom(format_args!("invalid double {}", quoted(text)))),
        }
    }
}

/// AnyValue's `bytesValue`, in base64.
pub(super) struct Base64Bytes(pub(super) Vec<u8>);

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Base64Visitor).map(Base64Bytes)
    }
}

struct Base64Visitor;

impl<'de> Visitor<'de> for Base64Visitor {
    type Value = Vec<u8>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("base64 bytes")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
        decode_base64(text)
            .map_err(|_| E::custom(format_args!("invalid base64 bytes {}", quoted(text))))
    }
}

/// Decodes the standard or the URL-safe alphabet, with or without padding, like
/// the Go and C++ protobuf JSON parsers.
fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
    if text.contains(['-', '_']) {
        URL_SAFE.decode(text)
    } else {
        STANDARD.decode(text)
    }
}

/// Quotes client text for an error message, cut short so that a huge bad value
/// does not become a huge error.
fn quoted(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{:?}...", &text[..end]),
        None => format!("{text:?}"),
    }
}
