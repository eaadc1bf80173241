//! What crosses a process boundary, whatever the mechanism: member ids and names, the frame every
//! message travels in, the [`Wire`] trait a mechanism's messages implement, and reading one frame
//! off a stream. Election cores, node processes and the stores' servers all build on it.

pub mod frame;

use tokio::io::AsyncReadExt;

pub use frame::WireError;

/// A cluster member, numbered from 1 and shown as `n1`, `n2`, ...
pub type NodeId = u32;

/// The display name of a node (`n3`).
pub fn node_name(id: NodeId) -> String {
    format!("n{id}")
}

/// Parses `n3` back into `3`.
pub fn parse_node_name(name: &str) -> Option<NodeId> {
    name.strip_prefix('n')?.parse().ok()
}

/// A mechanism's wire format: complete frames (length prefix included) between processes.
pub trait Wire: Sized {
    /// Encodes one message from `from` as a complete frame.
    fn encode(&self, from: NodeId) -> Vec<u8>;
    /// Decodes a frame's body (the bytes after the length prefix) into its sender and message.
    fn decode(body: &[u8]) -> Result<(NodeId, Self), frame::WireError>;
    /// The answer a request to a store gets when the store cannot be reached at all (connection
    /// refused or reset before an answer), as a client library reports such a failure at once.
    /// `None` for messages that are not store requests: those are simply lost.
    fn unreachable_reply(&self) -> Option<Self> {
        None
    }
}

/// Reads one frame's body (the bytes after its length prefix) into `body`.
pub async fn read_frame<R: AsyncReadExt + Unpin>(
    stream: &mut R,
    body: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await?;
    let len = frame::frame_len(prefix).map_err(std::io::Error::other)?;
    body.resize(len, 0);
    stream.read_exact(body).await?;
    Ok(())
}
