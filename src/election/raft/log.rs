//! A member's Raft log: a compacted prefix ([`Snapshot`]) and the entries after it, the commit
//! index, and the durable changes not yet handed to the runtime.
//!
//! Logs are compacted as the systems electune models compact them: a member keeps `trailing`
//! committed entries behind its commit index so that a lagging follower can catch up from the
//! log (etcd's `SnapshotCatchUpEntries`, hashicorp/raft's `TrailingLogs`), and a follower that
//! lags further gets the snapshot instead (etcd-io/raft `raft.maybeSendSnapshot`). Without it a
//! simulated day of writes grows every log without bound, and a restart copies all of it.

use super::message::{Entry, EntryKind, Snapshot};

/// Log changes a runtime must make durable, applied in this order: `install` (replace the whole
/// log), `truncate_after`, `append`, then `compact`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogChange {
    /// A snapshot from the leader replaces the whole log.
    pub install: Option<Snapshot>,
    /// Drop every log entry with an index above this one before appending.
    pub truncate_after: Option<u64>,
    /// Entries to append to the durable log (after any truncation).
    pub append: Vec<Entry>,
    /// Drop every entry at or below this snapshot's index; it becomes the compacted prefix.
    pub compact: Option<Snapshot>,
}

impl LogChange {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.install.is_none()
            && self.truncate_after.is_none()
            && self.append.is_empty()
            && self.compact.is_none()
    }
}

/// The durable form of a log: what a runtime keeps across a crash.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurableLog {
    /// The compacted prefix.
    pub snapshot: Snapshot,
    /// The entries after `snapshot.index`; entry `i` is `entries[i - snapshot.index - 1]`.
    pub entries: Vec<Entry>,
}

impl DurableLog {
    /// Applies one step's log changes in the order [`LogChange`] documents.
    pub fn apply(&mut self, change: &LogChange) {
        if let Some(s) = change.install {
            self.snapshot = s;
            self.entries.clear();
        }
        if let Some(t) = change.truncate_after {
            self.entries
                .truncate(t.saturating_sub(self.snapshot.index) as usize);
        }
        self.entries.extend_from_slice(&change.append);
        if let Some(s) = change.compact {
            compact(&mut self.snapshot, &mut self.entries, s);
        }
    }

    /// The index of the last entry (the snapshot's when no entry follows it).
    pub fn last_index(&self) -> u64 {
        self.snapshot.index + self.entries.len() as u64
    }
}

/// Drops the entries at or below `to.index` (a no-op unless it moves the prefix forward).
fn compact(snapshot: &mut Snapshot, entries: &mut Vec<Entry>, to: Snapshot) {
    if to.index <= snapshot.index {
        return;
    }
    let n = ((to.index - snapshot.index) as usize).min(entries.len());
    entries.drain(..n);
    *snapshot = to;
}

/// One past the highest write sequence number in `entries`, at least `floor`.
fn next_write_seq(floor: u64, entries: &[Entry]) -> u64 {
    entries
        .iter()
        .filter_map(|e| match e.kind {
            EntryKind::Write { seq } => Some(seq + 1),
            EntryKind::Noop => None,
        })
        .fold(floor, u64::max)
}

/// The in-memory log of a Raft core.
#[derive(Debug)]
pub struct RaftLog {
    durable: DurableLog,
    commit: u64,
    trailing: u64,
    pending: LogChange,
}

impl RaftLog {
    /// The log restored from its durable form, keeping `trailing` (≥ 1) committed entries when
    /// it compacts.
    pub fn restore(durable: DurableLog, trailing: u64) -> Self {
        Self {
            commit: durable.snapshot.index,
            durable,
            trailing: trailing.max(1),
            pending: LogChange::default(),
        }
    }

    /// The durable changes since the last call.
    pub fn take_change(&mut self) -> LogChange {
        std::mem::take(&mut self.pending)
    }

    /// The compacted prefix.
    pub fn snapshot(&self) -> Snapshot {
        self.durable.snapshot
    }

    /// The entries after the snapshot.
    pub fn entries(&self) -> &[Entry] {
        &self.durable.entries
    }

    /// The commit index as this member knows it.
    pub fn commit(&self) -> u64 {
        self.commit
    }

    pub fn last_index(&self) -> u64 {
        self.durable.last_index()
    }

    pub fn last_term(&self) -> u64 {
        self.durable
            .entries
            .last()
            .map_or(self.durable.snapshot.term, |e| e.term)
    }

    /// The term of entry `index`, if the log still holds it (the snapshot's last entry counts).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        let s = self.durable.snapshot;
        if index == s.index {
            return Some(s.term);
        }
        if index < s.index || index > self.last_index() {
            return None;
        }
        Some(self.durable.entries[(index - s.index - 1) as usize].term)
    }

    /// Whether the log holds an entry `index` of term `term`. A compacted entry was committed,
    /// and every leader's log holds every committed entry, so it matches any leader's.
    pub fn matches(&self, index: u64, term: u64) -> bool {
        index < self.durable.snapshot.index || self.term_at(index) == Some(term)
    }

    /// Up to `max` entries from `from` on, or `None` when `from` is compacted away (send the
    /// snapshot instead).
    pub fn entries_from(&self, from: u64, max: usize) -> Option<Vec<Entry>> {
        let s = self.durable.snapshot.index;
        if from <= s {
            return None;
        }
        let start = (from - s - 1) as usize;
        let end = (start + max).min(self.durable.entries.len());
        Some(self.durable.entries[start.min(end)..end].to_vec())
    }

    /// One past the highest write sequence number the log (or its snapshot) records.
    pub fn next_write_seq(&self) -> u64 {
        next_write_seq(self.durable.snapshot.next_write_seq, &self.durable.entries)
    }

    pub fn append(&mut self, entry: Entry) {
        self.durable.entries.push(entry);
        self.pending.append.push(entry);
    }

    /// Drops every entry above `index`, keeping the promise that applying the pending change to
    /// the durable log gives this log.
    pub fn truncate_after(&mut self, index: u64) {
        let index = index.max(self.durable.snapshot.index);
        let base = self.last_index() - self.pending.append.len() as u64;
        self.durable
            .entries
            .truncate((index - self.durable.snapshot.index) as usize);
        if index >= base {
            self.pending.append.truncate((index - base) as usize);
        } else {
            self.pending.append.clear();
            self.pending.truncate_after = Some(index);
        }
    }

    /// Raises the commit index to `index` (never past the last entry) and compacts once more
    /// than twice `trailing` committed entries are held.
    pub fn commit_to(&mut self, index: u64) {
        let index = index.min(self.last_index());
        if index <= self.commit {
            return;
        }
        self.commit = index;
        let s = self.durable.snapshot;
        if self.commit - s.index >= 2 * self.trailing {
            let to = self.commit - self.trailing;
            let dropped = &self.durable.entries[..(to - s.index) as usize];
            let snapshot = Snapshot {
                index: to,
                term: dropped.last().map_or(s.term, |e| e.term),
                next_write_seq: next_write_seq(s.next_write_seq, dropped),
            };
            compact(
                &mut self.durable.snapshot,
                &mut self.durable.entries,
                snapshot,
            );
            self.pending.compact = Some(snapshot);
        }
    }

    /// Takes the leader's snapshot. A log that already holds the snapshot's last entry keeps
    /// everything and only learns the commit (etcd-io/raft `raft.restore` does the same);
    /// otherwise the whole log is replaced.
    pub fn install(&mut self, snapshot: Snapshot) {
        if snapshot.index <= self.commit || self.term_at(snapshot.index) == Some(snapshot.term) {
            self.commit_to(snapshot.index);
            return;
        }
        self.durable.snapshot = snapshot;
        self.durable.entries.clear();
        self.commit = snapshot.index;
        self.pending = LogChange {
            install: Some(snapshot),
            ..LogChange::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(term: u64, seq: u64) -> Entry {
        Entry {
            term,
            kind: EntryKind::Write { seq },
        }
    }

    /// After any sequence of operations, the durable log with the changes applied equals the
    /// in-memory log.
    fn assert_in_step(disk: &mut DurableLog, log: &mut RaftLog) {
        disk.apply(&log.take_change());
        assert_eq!(disk, &log.durable);
    }

    #[test]
    fn compaction_keeps_trailing_entries_and_the_write_counter() {
        let mut disk = DurableLog::default();
        let mut log = RaftLog::restore(disk.clone(), 10);
        for seq in 0..100 {
            log.append(write(1, seq));
        }
        log.commit_to(95);
        assert_eq!(log.snapshot().index, 85);
        assert_eq!(log.snapshot().term, 1);
        assert_eq!(log.snapshot().next_write_seq, 85);
        assert_eq!(log.entries().len(), 15);
        assert_eq!(log.last_index(), 100);
        assert_eq!(log.next_write_seq(), 100);
        assert_eq!(log.term_at(85), Some(1));
        assert_eq!(log.term_at(84), None);
        assert!(log.matches(40, 7), "a compacted entry was committed");
        assert_eq!(log.entries_from(85, 10), None);
        assert_eq!(log.entries_from(86, 3).unwrap().len(), 3);
        assert_in_step(&mut disk, &mut log);
        // Not yet twice `trailing` past the snapshot: nothing more is compacted.
        log.commit_to(100);
        assert_eq!(log.snapshot().index, 85);
        assert_in_step(&mut disk, &mut log);
    }

    #[test]
    fn appends_truncations_and_compaction_in_one_step_reach_the_disk_in_order() {
        let mut disk = DurableLog::default();
        let mut log = RaftLog::restore(disk.clone(), 2);
        for seq in 0..6 {
            log.append(write(1, seq));
        }
        assert_in_step(&mut disk, &mut log);
        log.truncate_after(4);
        log.append(write(2, 10));
        log.append(write(2, 11));
        log.commit_to(6);
        assert_eq!(log.snapshot().index, 4);
        assert_in_step(&mut disk, &mut log);
        assert_eq!(disk.entries, vec![write(2, 10), write(2, 11)]);
        assert_eq!(log.next_write_seq(), 12);
    }

    #[test]
    fn a_snapshot_replaces_a_log_that_does_not_hold_its_last_entry() {
        let mut disk = DurableLog::default();
        let mut log = RaftLog::restore(disk.clone(), 5);
        log.append(write(1, 0));
        log.append(write(1, 1));
        let s = Snapshot {
            index: 50,
            term: 3,
            next_write_seq: 40,
        };
        log.install(s);
        log.append(write(3, 40));
        assert_eq!(log.last_index(), 51);
        assert_eq!(log.commit(), 50);
        assert_in_step(&mut disk, &mut log);
        assert_eq!(disk.snapshot, s);
        assert_eq!(log.next_write_seq(), 41);
        // One that holds it keeps its log and only learns the commit.
        log.install(Snapshot {
            index: 51,
            term: 3,
            next_write_seq: 41,
        });
        assert_eq!((log.last_index(), log.commit()), (51, 51));
        assert_in_step(&mut disk, &mut log);
    }

    #[test]
    fn a_random_walk_keeps_disk_and_memory_in_step() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let mut disk = DurableLog::default();
            let mut log = RaftLog::restore(disk.clone(), 1 + next() % 4);
            let mut seq = 0;
            for _ in 0..60 {
                match next() % 6 {
                    0..=2 => {
                        log.append(write(1 + next() % 3, seq));
                        seq += 1;
                    }
                    3 => log.truncate_after(log.commit().max(next() % (log.last_index() + 1))),
                    4 => log.commit_to(next() % (log.last_index() + 1)),
                    _ => assert_in_step(&mut disk, &mut log),
                }
            }
            assert_in_step(&mut disk, &mut log);
        }
    }
}
