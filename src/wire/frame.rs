//! The framing every mechanism's wire format shares between node processes:
//! `u32 length (big-endian) | u32 sender | body...`, the length counting the bytes after itself.
//! Each mechanism encodes its own body (see [`super::Wire`]); the node runtime only splits frames.

use super::NodeId;

/// Largest frame accepted; anything longer is a corrupt stream.
pub const MAX_FRAME: usize = 1 << 20;

/// Why bytes could not be decoded into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("frame ended early")]
    Truncated,
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("unknown entry kind {0}")]
    UnknownEntry(u8),
    #[error("{0} bytes left over after the message")]
    TrailingBytes(usize),
    #[error("text field is not UTF-8")]
    NotText,
}

/// Reads the length prefix of a frame: how many bytes follow it.
pub fn frame_len(prefix: [u8; 4]) -> Result<usize, WireError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge(len));
    }
    Ok(len)
}

/// Starts a frame from `from`: the length placeholder and the sender.
pub fn begin(from: NodeId) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&from.to_be_bytes());
    b
}

/// Writes the length prefix of a frame started with [`begin`].
pub fn finish(mut b: Vec<u8>) -> Vec<u8> {
    let len = (b.len() - 4) as u32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    b
}

/// Appends a `u32` length and the bytes of `text` (read back by [`Reader::string`]).
pub fn put_string(b: &mut Vec<u8>, text: &str) {
    b.extend_from_slice(&(text.len() as u32).to_be_bytes());
    b.extend_from_slice(text.as_bytes());
}

/// Reads big-endian integers from a frame body.
pub struct Reader<'a>(pub &'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        if self.0.len() < N {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        Ok(head.try_into().expect("split_at gave N bytes"))
    }
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take::<1>()?[0])
    }
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.take()?))
    }
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.take()?))
    }
    /// A `u32` length, then that many bytes of UTF-8 text.
    pub fn string(&mut self) -> Result<String, WireError> {
        let len = self.u32()? as usize;
        if self.0.len() < len {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(head.to_vec()).map_err(|_| WireError::NotText)
    }
    /// Fails unless every byte was read.
    pub fn end(&self) -> Result<(), WireError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes(self.0.len()))
        }
    }
}
