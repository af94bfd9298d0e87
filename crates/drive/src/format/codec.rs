//! A tiny little-endian binary codec: fixed-width integers, length-prefixed byte strings
//! (`u32` length `||` bytes) and counted lists (`u32` count `||` items).

use super::FormatError;

/// Appends encoded values to a byte vector.
#[derive(Debug, Default)]
pub(crate) struct Enc(pub(crate) Vec<u8>);

impl Enc {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn raw(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }
    /// `u32 length || bytes`. Lengths above `u32::MAX` cannot occur: every caller's
    /// byte strings are names, keys or small files checked before encoding.
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.raw(v);
    }
    pub(crate) fn opt_bytes(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.bytes(v);
            }
        }
    }
    pub(crate) fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

/// Reads encoded values from a byte slice; every read checks the remaining length.
#[derive(Debug)]
pub(crate) struct Dec<'a> {
    buf: &'a [u8],
}

impl<'a> Dec<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Dec { buf }
    }
    pub(crate) fn raw(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        if self.buf.len() < n {
            return Err(FormatError::Truncated { what });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.raw(N, what)?);
        Ok(out)
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, FormatError> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, FormatError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, FormatError> {
        let n = self.u32(what)? as usize;
        Ok(self.raw(n, what)?.to_vec())
    }
    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, FormatError> {
        String::from_utf8(self.bytes(what)?).map_err(|_| FormatError::Invalid { what })
    }
    pub(crate) fn opt_bytes(&mut self, what: &'static str) -> Result<Option<Vec<u8>>, FormatError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => Ok(Some(self.bytes(what)?)),
            _ => Err(FormatError::Invalid { what }),
        }
    }
    /// A list count, refused when even `min_item` bytes per item cannot fit in what is left,
    /// so a corrupt count never causes a huge allocation.
    pub(crate) fn count(&mut self, min_item: usize, what: &'static str) -> Result<usize, FormatError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_item.max(1)) > self.buf.len() {
            return Err(FormatError::Truncated { what });
        }
        Ok(n)
    }
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), FormatError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FormatError::TrailingBytes { what })
        }
    }
}
