//! A small, bounded Thrift reader: the binary and compact protocols, only as much as
//! Jaeger's `Batch` and the agent's `emitBatch` message need.
//!
//! Every length and count read from the input is checked against what is left of
//! it before anything is allocated, lists and strings have caps, and nesting is
//! limited, so a hostile datagram costs at most its own size and a bounded stack.
//! Readers borrow the input; strings are copied out only once they are known to fit.

/// Deepest struct/list nesting accepted (Jaeger's deepest path, Batch → Span → Log →
/// Tag, is 4; unknown fields are skipped up to this depth).
pub(crate) const MAX_DEPTH: usize = 16;
/// Most elements in one list, whatever the input's size.
pub(crate) const MAX_LIST_LEN: usize = 1 << 20;
/// Longest string or binary value.
pub(crate) const MAX_STRING_BYTES: usize = 1 << 20;

/// Why a Thrift payload could not be read. Messages name the problem and the offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThriftError {
    #[error("message truncated at byte {at}: needed {needed} more bytes")]
    Truncated { at: usize, needed: usize },
    #[error("{what} length {len} at byte {at} exceeds the {remaining} bytes left in the message")]
    LengthPastEnd {
        what: &'static str,
        len: i64,
        at: usize,
        remaining: usize,
    },
    #[error("{what} length {len} at byte {at} is negative or over the limit of {limit}")]
    LengthOverLimit {
        what: &'static str,
        len: i64,
        at: usize,
        limit: usize,
    },
    #[error("nesting deeper than {MAX_DEPTH} levels at byte {at}")]
    TooDeep { at: usize },
    #[error("unknown Thrift type code {code} at byte {at}")]
    UnknownType { code: u8, at: usize },
    #[error("{field} must be a Thrift {expected}, got {got}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        got: &'static str,
    },
    #[error("{0} is required but missing")]
    Missing(&'static str),
    #[error("varint at byte {at} is longer than 10 bytes")]
    BadVarint { at: usize },
    #[error("not a Thrift message: {0}")]
    BadMessage(String),
}

/// The value types of Thrift's type system (the two protocols number them differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Bool,
    Byte,
    I16,
    I32,
    I64,
    Double,
    Binary,
    Struct,
    Map,
    Set,
    List,
}

impl Type {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Byte => "byte",
            Type::I16 => "i16",
            Type::I32 => "i32",
            Type::I64 => "i64",
            Type::Double => "double",
            Type::Binary => "string",
            Type::Struct => "struct",
            Type::Map => "map",
            Type::Set => "set",
            Type::List => "list",
        }
    }
}

/// What the struct decoders need from a protocol.
pub(crate) trait ThriftRead: Sized {
    /// Enters a struct (counts nesting).
    fn struct_begin(&mut self) -> Result<(), ThriftError>;
    fn struct_end(&mut self);
    /// The next field's type and id, or `None` at the struct's STOP.
    fn field(&mut self) -> Result<Option<(Type, i16)>, ThriftError>;
    fn bool(&mut self) -> Result<bool, ThriftError>;
    fn byte(&mut self) -> Result<i8, ThriftError>;
    fn i16(&mut self) -> Result<i16, ThriftError>;
    fn i32(&mut self) -> Result<i32, ThriftError>;
    fn i64(&mut self) -> Result<i64, ThriftError>;
    fn double(&mut self) -> Result<f64, ThriftError>;
    fn binary(&mut self) -> Result<&[u8], ThriftError>;
    /// A list's (or set's) element type and length, checked against the input left.
    fn list_begin(&mut self) -> Result<(Type, usize), ThriftError>;
    /// A map's key and value types and length, checked against the input left.
    fn map_begin(&mut self) -> Result<Option<(Type, Type, usize)>, ThriftError>;
    /// A message header: its name and message type.
    fn message_begin(&mut self) -> Result<(String, u8), ThriftError>;
    /// Bytes not yet read.
    fn remaining(&self) -> usize;

    fn string(&mut self) -> Result<String, ThriftError> {
        Ok(String::from_utf8_lossy(self.binary()?).into_owned())
    }

    /// Skips a value of type `ty`, however nested, within `MAX_DEPTH`.
    fn skip(&mut self, ty: Type) -> Result<(), ThriftError> {
        match ty {
            Type::Bool => self.bool().map(drop),
            Type::Byte => self.byte().map(drop),
            Type::I16 => self.i16().map(drop),
            Type::I32 => self.i32().map(drop),
            Type::I64 => self.i64().map(drop),
            Type::Double => self.double().map(drop),
            Type::Binary => self.binary().map(drop),
            Type::Struct => {
                self.struct_begin()?;
                while let Some((field_type, _)) = self.field()? {
                    self.skip(field_type)?;
                }
                self.struct_end();
                Ok(())
            }
            Type::List | Type::Set => {
                let (element, len) = self.list_begin()?;
                self.nested(|reader| (0..len).try_for_each(|_| reader.skip(element)))
            }
            Type::Map => match self.map_begin()? {
                None => Ok(()),
                Some((key, value, len)) => self.nested(|reader| {
                    (0..len).try_for_each(|_| {
                        reader.skip(key)?;
                        reader.skip(value)
                    })
                }),
            },
        }
    }

    /// Runs `read` one nesting level deeper.
    fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, ThriftError>,
    ) -> Result<T, ThriftError>;
}

/// Checks a length or count read at `at` against the input left and a cap.
fn check_len(
    what: &'static str,
    len: i64,
    at: usize,
    remaining: usize,
    limit: usize,
) -> Result<usize, ThriftError> {
    let Ok(len_usize) = usize::try_from(len) else {
        return Err(ThriftError::LengthOverLimit {
            what,
            len,
            at,
            limit,
        });
    };
    if len_usize > limit {
        return Err(ThriftError::LengthOverLimit {
            what,
            len,
            at,
            limit,
        });
    }
    if len_usize > remaining {
        return Err(ThriftError::LengthPastEnd {
            what,
            len,
            at,
            remaining,
        });
    }
    Ok(len_usize)
}

/// The cursor both protocols share.
#[derive(Debug)]
struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], ThriftError> {
        let remaining = self.input.len() - self.pos;
        if len > remaining {
            return Err(ThriftError::Truncated {
                at: self.pos,
                needed: len - remaining,
            });
        }
        let bytes = &self.input[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ThriftError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn u8(&mut self) -> Result<u8, ThriftError> {
        Ok(self.array::<1>()?[0])
    }

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn enter(&mut self) -> Result<(), ThriftError> {
        if self.depth >= MAX_DEPTH {
            return Err(ThriftError::TooDeep { at: self.pos });
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

/// `TBinaryProtocol`: big-endian fixed-width integers, i32 length prefixes.
#[derive(Debug)]
pub(crate) struct BinaryReader<'a> {
    cursor: Cursor<'a>,
}

impl<'a> BinaryReader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        BinaryReader {
            cursor: Cursor {
                input,
                pos: 0,
                depth: 0,
            },
        }
    }

    fn type_of(&self, code: u8) -> Result<Type, ThriftError> {
        Ok(match code {
            2 => Type::Bool,
            3 => Type::Byte,
            4 => Type::Double,
            6 => Type::I16,
            8 => Type::I32,
            10 => Type::I64,
            11 => Type::Binary,
            12 => Type::Struct,
            13 => Type::Map,
            14 => Type::Set,
            15 => Type::List,
            _ => {
                return Err(ThriftError::UnknownType {
                    code,
                    at: self.cursor.pos.saturating_sub(1),
                })
            }
        })
    }

    fn len(&mut self, what: &'static str, limit: usize) -> Result<usize, ThriftError> {
        let at = self.cursor.pos;
        let len = i64::from(self.i32()?);
        check_len(what, len, at, self.cursor.remaining(), limit)
    }
}

impl ThriftRead for BinaryReader<'_> {
    fn struct_begin(&mut self) -> Result<(), ThriftError> {
        self.cursor.enter()
    }

    fn struct_end(&mut self) {
        self.cursor.leave();
    }

    fn field(&mut self) -> Result<Option<(Type, i16)>, ThriftError> {
        let code = self.cursor.u8()?;
        if code == 0 {
            return Ok(None);
        }
        let ty = self.type_of(code)?;
        Ok(Some((ty, self.i16()?)))
    }

    fn bool(&mut self) -> Result<bool, ThriftError> {
        Ok(self.cursor.u8()? != 0)
    }

    fn byte(&mut self) -> Result<i8, ThriftError> {
        Ok(i8::from_be_bytes(self.cursor.array()?))
    }

    fn i16(&mut self) -> Result<i16, ThriftError> {
        Ok(i16::from_be_bytes(self.cursor.array()?))
    }

    fn i32(&mut self) -> Result<i32, ThriftError> {
        Ok(i32::from_be_bytes(self.cursor.array()?))
    }

    fn i64(&mut self) -> Result<i64, ThriftError> {
        Ok(i64::from_be_bytes(self.cursor.array()?))
    }

    fn double(&mut self) -> Result<f64, ThriftError> {
        Ok(f64::from_be_bytes(self.cursor.array()?))
    }

    fn binary(&mut self) -> Result<&[u8], ThriftError> {
        let len = self.len("string", MAX_STRING_BYTES)?;
        self.cursor.take(len)
    }

    fn list_begin(&mut self) -> Result<(Type, usize), ThriftError> {
        let code = self.cursor.u8()?;
        let element = self.type_of(code)?;
        // Every element takes at least one byte, so a count beyond the input left is a lie.
        let len = self.len("list", MAX_LIST_LEN)?;
        Ok((element, len))
    }

    fn map_begin(&mut self) -> Result<Option<(Type, Type, usize)>, ThriftError> {
        let key_code = self.cursor.u8()?;
        let key = self.type_of(key_code)?;
        let value_code = self.cursor.u8()?;
        let value = self.type_of(value_code)?;
        let len = self.len("map", MAX_LIST_LEN)?;
        Ok(Some((key, value, len)))
    }

    fn message_begin(&mut self) -> Result<(String, u8), ThriftError> {
        let first = self.i32()?;
        if first < 0 {
            // Strict: version in the high half, message type in the lowest byte.
            if (first as u32) & 0xffff_0000 != 0x8001_0000 {
                return Err(ThriftError::BadMessage(format!(
                    "unsupported binary protocol version {:#x}",
                    (first as u32) >> 16
                )));
            }
            let name = self.string()?;
            let _sequence_id = self.i32()?;
            Ok((name, (first & 0xff) as u8))
        } else {
            // Old, non-strict header: the name's length comes first.
            let at = self.cursor.pos - 4;
            let len = check_len(
                "message name",
                i64::from(first),
                at,
                self.cursor.remaining(),
                MAX_STRING_BYTES,
            )?;
            let name = String::from_utf8_lossy(self.cursor.take(len)?).into_owned();
            let message_type = self.cursor.u8()?;
            let _sequence_id = self.i32()?;
            Ok((name, message_type))
        }
    }

    fn remaining(&self) -> usize {
        self.cursor.remaining()
    }

    fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, ThriftError>,
    ) -> Result<T, ThriftError> {
        self.cursor.enter()?;
        let result = read(self);
        self.cursor.leave();
        result
    }
}

/// `TCompactProtocol`: zigzag varints, field-id deltas, bools folded into field headers.
#[derive(Debug)]
pub(crate) struct CompactReader<'a> {
    cursor: Cursor<'a>,
    /// The last field id of each open struct, for the delta encoding.
    last_field_ids: Vec<i16>,
    /// A bool field's value, carried in its header.
    pending_bool: Option<bool>,
}

impl<'a> CompactReader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        CompactReader {
            cursor: Cursor {
                input,
                pos: 0,
                depth: 0,
            },
            last_field_ids: Vec::with_capacity(MAX_DEPTH),
            pending_bool: None,
        }
    }

    fn type_of(&self, code: u8) -> Result<Type, ThriftError> {
        Ok(match code {
            1 | 2 => Type::Bool,
            3 => Type::Byte,
            4 => Type::I16,
            5 => Type::I32,
            6 => Type::I64,
            7 => Type::Double,
            8 => Type::Binary,
            9 => Type::List,
            10 => Type::Set,
            11 => Type::Map,
            12 => Type::Struct,
            _ => {
                return Err(ThriftError::UnknownType {
                    code,
                    at: self.cursor.pos.saturating_sub(1),
                })
            }
        })
    }

    fn varint(&mut self) -> Result<u64, ThriftError> {
        let at = self.cursor.pos;
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.cursor.u8()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ThriftError::BadVarint { at })
    }

    fn zigzag(&mut self) -> Result<i64, ThriftError> {
        let raw = self.varint()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    fn len(&mut self, what: &'static str, limit: usize) -> Result<usize, ThriftError> {
        let at = self.cursor.pos;
        let raw = self.varint()?;
        let len = i64::try_from(raw).unwrap_or(i64::MAX);
        check_len(what, len, at, self.cursor.remaining(), limit)
    }
}

impl ThriftRead for CompactReader<'_> {
    fn struct_begin(&mut self) -> Result<(), ThriftError> {
        self.cursor.enter()?;
        self.last_field_ids.push(0);
        Ok(())
    }

    fn struct_end(&mut self) {
        self.last_field_ids.pop();
        self.cursor.leave();
    }

    fn field(&mut self) -> Result<Option<(Type, i16)>, ThriftError> {
        let header = self.cursor.u8()?;
        if header == 0 {
            return Ok(None);
        }
        let code = header & 0x0f;
        let ty = self.type_of(code)?;
        let delta = header >> 4;
        let last = self.last_field_ids.last().copied().unwrap_or(0);
        let id = if delta == 0 {
            let id = self.zigzag()?;
            i16::try_from(id)
                .map_err(|_| ThriftError::BadMessage(format!("field id {id} is out of range")))?
        } else {
            last.wrapping_add(i16::from(delta))
        };
        if let Some(slot) = self.last_field_ids.last_mut() {
            *slot = id;
        }
        self.pending_bool = (ty == Type::Bool).then_some(code == 1);
        Ok(Some((ty, id)))
    }

    fn bool(&mut self) -> Result<bool, ThriftError> {
        match self.pending_bool.take() {
            Some(value) => Ok(value),
            None => Ok(self.cursor.u8()? == 1),
        }
    }

    fn byte(&mut self) -> Result<i8, ThriftError> {
        Ok(i8::from_be_bytes(self.cursor.array()?))
    }

    fn i16(&mut self) -> Result<i16, ThriftError> {
        let at = self.cursor.pos;
        let value = self.zigzag()?;
        i16::try_from(value).map_err(|_| {
            ThriftError::BadMessage(format!("i16 at byte {at} is out of range: {value}"))
        })
    }

    fn i32(&mut self) -> Result<i32, ThriftError> {
        let at = self.cursor.pos;
        let value = self.zigzag()?;
        i32::try_from(value).map_err(|_| {
            ThriftError::BadMessage(format!("i32 at byte {at} is out of range: {value}"))
        })
    }

    fn i64(&mut self) -> Result<i64, ThriftError> {
        self.zigzag()
    }

    fn double(&mut self) -> Result<f64, ThriftError> {
        Ok(f64::from_le_bytes(self.cursor.array()?))
    }

    fn binary(&mut self) -> Result<&[u8], ThriftError> {
        let len = self.len("string", MAX_STRING_BYTES)?;
        self.cursor.take(len)
    }

    fn list_begin(&mut self) -> Result<(Type, usize), ThriftError> {
        let header = self.cursor.u8()?;
        let element = self.type_of(header & 0x0f)?;
        let short_len = header >> 4;
        let len = if short_len == 15 {
            self.len("list", MAX_LIST_LEN)?
        } else {
            check_len(
                "list",
                i64::from(short_len),
                self.cursor.pos - 1,
                self.cursor.remaining(),
                MAX_LIST_LEN,
            )?
        };
        Ok((element, len))
    }

    fn map_begin(&mut self) -> Result<Option<(Type, Type, usize)>, ThriftError> {
        let len = self.len("map", MAX_LIST_LEN)?;
        if len == 0 {
            return Ok(None);
        }
        let types = self.cursor.u8()?;
        let key = self.type_of(types >> 4)?;
        let value = self.type_of(types & 0x0f)?;
        Ok(Some((key, value, len)))
    }

    fn message_begin(&mut self) -> Result<(String, u8), ThriftError> {
        let protocol_id = self.cursor.u8()?;
        if protocol_id != 0x82 {
            return Err(ThriftError::BadMessage(format!(
                "compact protocol id must be 0x82, got {protocol_id:#04x}"
            )));
        }
        let version_and_type = self.cursor.u8()?;
        if version_and_type & 0x1f != 1 {
            return Err(ThriftError::BadMessage(format!(
                "unsupported compact protocol version {}",
                version_and_type & 0x1f
            )));
        }
        let _sequence_id = self.varint()?;
        let name = self.string()?;
        Ok((name, version_and_type >> 5))
    }

    fn remaining(&self) -> usize {
        self.cursor.remaining()
    }

    fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, ThriftError>,
    ) -> Result<T, ThriftError> {
        self.cursor.enter()?;
        let result = read(self);
        self.cursor.leave();
        result
    }
}
