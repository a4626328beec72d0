//! LEB128 varints and a bounds-checked reader, shared by the block and meta codecs.

use super::CodecError;

pub(in crate::store) fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(in crate::store) fn put_i64(out: &mut Vec<u8>, value: i64) {
    put_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

pub(in crate::store) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads values written by the `put_*` functions; every read is bounds-checked so a
/// corrupt value yields `CodecError`, never a panic.
#[derive(Debug)]
pub(in crate::store) struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub(in crate::store) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, position: 0 }
    }

    #[cfg(test)]
    pub(in crate::store) fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    /// The bytes not read yet.
    pub(in crate::store) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.position.min(self.bytes.len())..]
    }

    pub(in crate::store) fn position(&self) -> usize {
        self.position
    }

    pub(in crate::store) fn seek(&mut self, position: usize) -> Result<(), CodecError> {
        if position > self.bytes.len() {
            return Err(CodecError::Truncated);
        }
        self.position = position;
        Ok(())
    }

    pub(in crate::store) fn u8(&mut self) -> Result<u8, CodecError> {
        let byte = *self.bytes.get(self.position).ok_or(CodecError::Truncated)?;
        self.position += 1;
        Ok(byte)
    }

    pub(in crate::store) fn peek_u8(&self) -> Result<u8, CodecError> {
        self.bytes
            .get(self.position)
            .copied()
            .ok_or(CodecError::Truncated)
    }

    pub(in crate::store) fn u64(&mut self) -> Result<u64, CodecError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CodecError::Corrupt("varint longer than 10 bytes"))
    }

    pub(in crate::store) fn u32(&mut self) -> Result<u32, CodecError> {
        u32::try_from(self.u64()?).map_err(|_| CodecError::Corrupt("varint out of u32 range"))
    }

    pub(in crate::store) fn usize(&mut self) -> Result<usize, CodecError> {
        usize::try_from(self.u64()?).map_err(|_| CodecError::Corrupt("varint out of usize range"))
    }

    pub(in crate::store) fn i64(&mut self) -> Result<i64, CodecError> {
        let raw = self.u64()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    pub(in crate::store) fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let slice = self.take(N)?;
        Ok(slice.try_into().expect("take returned exactly N bytes"))
    }

    pub(in crate::store) fn take(&mut self, len: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .position
            .checked_add(len)
            .ok_or(CodecError::Truncated)?;
        let slice = self
            .bytes
            .get(self.position..end)
            .ok_or(CodecError::Truncated)?;
        self.position = end;
        Ok(slice)
    }

    pub(in crate::store) fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let len = self.usize()?;
        self.take(len)
    }

    /// A count that is about to size an allocation: it can't exceed the bytes left,
    /// because every counted item takes at least one byte.
    pub(in crate::store) fn count(&mut self) -> Result<usize, CodecError> {
        let count = self.usize()?;
        if count > self.bytes.len() - self.position.min(self.bytes.len()) {
            return Err(CodecError::Corrupt("count larger than the remaining bytes"));
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        let mut out = Vec::new();
        for value in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            put_u64(&mut out, value);
        }
        for value in [0i64, -1, 1, i64::MIN, i64::MAX] {
            put_i64(&mut out, value);
        }
        let mut reader = Reader::new(&out);
        for value in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(reader.u64().unwrap(), value);
        }
        for value in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(reader.i64().unwrap(), value);
        }
        assert!(reader.is_empty());
        assert!(matches!(reader.u8(), Err(CodecError::Truncated)));
    }
}
