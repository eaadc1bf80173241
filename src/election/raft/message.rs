//! Raft messages (election plus the minimal log replication that makes the up-to-date rule real).

/// One log entry: the term it was created in. The log holds a no-op entry per leader term and the
/// leader's fenced writes; its contents do not matter to elections, only (term, index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The term of the leader that created the entry.
    pub term: u64,
    /// What the entry records.
    pub kind: EntryKind,
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// The no-op a new leader appends at the start of its term.
    Noop,
    /// A fenced write to the sink with this sequence number.
    Write { seq: u64 },
}

/// The compacted prefix of a log: every entry up to `index` is committed and gone; what the
/// member keeps of it is the last entry's term and the next write sequence number after it.
/// A real system snapshots its state machine here (etcd's `raftpb.Snapshot`, hashicorp's
/// `InstallSnapshot`); electune's state machine is the write counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The index of the last compacted entry (0: nothing compacted).
    pub index: u64,
    /// The term of that entry.
    pub term: u64,
    /// One past the highest write sequence number at or below `index`.
    pub next_write_seq: u64,
}

/// A message between two members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A candidate (or pre-candidate) asks for a vote.
    RequestVote {
        /// The candidate's term (for a pre-vote: the term it would campaign in).
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        pre_vote: bool,
    },
    /// The answer to [`Message::RequestVote`].
    RequestVoteResponse {
        /// The voter's term (for a pre-vote that was granted: the requested term).
        term: u64,
        granted: bool,
        pre_vote: bool,
    },
    /// Heartbeat and log replication from the leader.
    AppendEntries {
        term: u64,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry>,
        /// The leader's commit index (followers compact their logs up to it).
        commit: u64,
        /// Heartbeat round, echoed in the response; lets the leader time its lease.
        round: u64,
    },
    /// A leader whose log no longer holds the entries a follower needs sends its snapshot
    /// instead (etcd-io/raft `raft.maybeSendSnapshot`, hashicorp/raft `replication.go
    /// sendLatestSnapshot`). Answered by [`Message::AppendEntriesResponse`]; it is leader
    /// contact like any append.
    InstallSnapshot {
        term: u64,
        snapshot: Snapshot,
        round: u64,
    },
    /// The answer to [`Message::AppendEntries`].
    AppendEntriesResponse {
        term: u64,
        success: bool,
        /// On success the follower's last matching index; on failure a hint for the next probe.
        match_index: u64,
        round: u64,
    },
}

impl Message {
    /// The term the message carries.
    pub fn term(&self) -> u64 {
        match self {
            Message::RequestVote { term, .. }
            | Message::RequestVoteResponse { term, .. }
            | Message::AppendEntries { term, .. }
            | Message::InstallSnapshot { term, .. }
            | Message::AppendEntriesResponse { term, .. } => *term,
        }
    }
}
