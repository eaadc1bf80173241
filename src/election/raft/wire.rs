//! Raft's wire format: compact binary bodies inside the shared frame
//! ([`crate::election::frame`]): `u8 kind | fields...`, every integer big-endian.

use super::{Entry, EntryKind, Message, Snapshot};
use crate::election::frame::{self, Reader, WireError};
use crate::election::NodeId;

const REQUEST_VOTE: u8 = 1;
const REQUEST_VOTE_RESPONSE: u8 = 2;
const APPEND_ENTRIES: u8 = 3;
const APPEND_ENTRIES_RESPONSE: u8 = 4;
const INSTALL_SNAPSHOT: u8 = 5;

/// Encodes one message from `from` as a complete frame (length prefix included).
pub fn encode(from: NodeId, msg: &Message) -> Vec<u8> {
    let mut b = frame::begin(from);
    match msg {
        Message::RequestVote {
            term,
            last_log_index,
            last_log_term,
            pre_vote,
        } => {
            b.push(REQUEST_VOTE);
            for v in [*term, *last_log_index, *last_log_term] {
                b.extend_from_slice(&v.to_be_bytes());
            }
            b.push(*pre_vote as u8);
        }
        Message::RequestVoteResponse {
            term,
            granted,
            pre_vote,
        } => {
            b.push(REQUEST_VOTE_RESPONSE);
            b.extend_from_slice(&term.to_be_bytes());
            b.push(*granted as u8);
            b.push(*pre_vote as u8);
        }
        Message::AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            commit,
            round,
        } => {
            b.push(APPEND_ENTRIES);
            for v in [*term, *prev_log_index, *prev_log_term, *commit, *round] {
                b.extend_from_slice(&v.to_be_bytes());
            }
            b.extend_from_slice(&(entries.len() as u32).to_be_bytes());
            for e in entries {
                b.extend_from_slice(&e.term.to_be_bytes());
                match e.kind {
                    EntryKind::Noop => b.push(0),
                    EntryKind::Write { seq } => {
                        b.push(1);
                        b.extend_from_slice(&seq.to_be_bytes());
                    }
                }
            }
        }
        Message::AppendEntriesResponse {
            term,
            success,
            match_index,
            round,
        } => {
            b.push(APPEND_ENTRIES_RESPONSE);
            b.extend_from_slice(&term.to_be_bytes());
            b.push(*success as u8);
            b.extend_from_slice(&match_index.to_be_bytes());
            b.extend_from_slice(&round.to_be_bytes());
        }
        Message::InstallSnapshot {
            term,
            snapshot,
            round,
        } => {
            b.push(INSTALL_SNAPSHOT);
            for v in [
                *term,
                snapshot.index,
                snapshot.term,
                snapshot.next_write_seq,
                *round,
            ] {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    frame::finish(b)
}

/// Decodes the body of a frame (the bytes after the length prefix).
pub fn decode(body: &[u8]) -> Result<(NodeId, Message), WireError> {
    let mut r = Reader(body);
    let from = r.u32()?;
    let kind = r.u8()?;
    let msg = match kind {
        REQUEST_VOTE => Message::RequestVote {
            term: r.u64()?,
            last_log_index: r.u64()?,
            last_log_term: r.u64()?,
            pre_vote: r.u8()? != 0,
        },
        REQUEST_VOTE_RESPONSE => Message::RequestVoteResponse {
            term: r.u64()?,
            granted: r.u8()? != 0,
            pre_vote: r.u8()? != 0,
        },
        APPEND_ENTRIES => {
            let term = r.u64()?;
            let prev_log_index = r.u64()?;
            let prev_log_term = r.u64()?;
            let commit = r.u64()?;
            let round = r.u64()?;
            let n = r.u32()? as usize;
            let mut entries = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                let term = r.u64()?;
                let kind = match r.u8()? {
                    0 => EntryKind::Noop,
                    1 => EntryKind::Write { seq: r.u64()? },
                    other => return Err(WireError::UnknownEntry(other)),
                };
                entries.push(Entry { term, kind });
            }
            Message::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                commit,
                round,
            }
        }
        INSTALL_SNAPSHOT => Message::InstallSnapshot {
            term: r.u64()?,
            snapshot: Snapshot {
                index: r.u64()?,
                term: r.u64()?,
                next_write_seq: r.u64()?,
            },
            round: r.u64()?,
        },
        APPEND_ENTRIES_RESPONSE => Message::AppendEntriesResponse {
            term: r.u64()?,
            success: r.u8()? != 0,
            match_index: r.u64()?,
            round: r.u64()?,
        },
        other => return Err(WireError::UnknownKind(other)),
    };
    r.end()?;
    Ok((from, msg))
}

impl crate::election::Wire for Message {
    fn encode(&self, from: NodeId) -> Vec<u8> {
        encode(from, self)
    }
    fn decode(body: &[u8]) -> Result<(NodeId, Self), WireError> {
        decode(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::election::frame::frame_len;

    fn round_trip(msg: Message) {
        let frame = encode(7, &msg);
        let len = frame_len(frame[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, frame.len() - 4);
        assert_eq!(decode(&frame[4..]).unwrap(), (7, msg));
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(Message::RequestVote {
            term: 9,
            last_log_index: 100,
            last_log_term: 8,
            pre_vote: true,
        });
        round_trip(Message::RequestVoteResponse {
            term: 9,
            granted: true,
            pre_vote: false,
        });
        round_trip(Message::AppendEntries {
            term: 3,
            prev_log_index: 10,
            prev_log_term: 2,
            entries: vec![
                Entry {
                    term: 3,
                    kind: EntryKind::Noop,
                },
                Entry {
                    term: 3,
                    kind: EntryKind::Write { seq: 42 },
                },
            ],
            commit: 9,
            round: 77,
        });
        round_trip(Message::InstallSnapshot {
            term: 4,
            snapshot: Snapshot {
                index: 10_000,
                term: 3,
                next_write_seq: 9_990,
            },
            round: 78,
        });
        round_trip(Message::AppendEntriesResponse {
            term: 3,
            success: false,
            match_index: 4,
            round: 77,
        });
    }

    #[test]
    fn corrupt_frames_are_errors_not_panics() {
        let frame = encode(
            1,
            &Message::RequestVoteResponse {
                term: 1,
                granted: true,
                pre_vote: true,
            },
        );
        for cut in 0..frame.len() - 4 {
            assert!(decode(&frame[4..4 + cut]).is_err());
        }
        let mut bad = frame[4..].to_vec();
        bad[4] = 99;
        assert_eq!(decode(&bad), Err(WireError::UnknownKind(99)));
        assert!(frame_len((u32::MAX).to_be_bytes()).is_err());
    }
}
