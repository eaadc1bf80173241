//! Durable state in the data dir: `hardstate` (term and vote, replaced atomically) and `log`: a
//! 24-byte header holding the compacted prefix (snapshot index, term, next write sequence), then
//! fixed 17-byte records, appended and truncated in place. A compaction or an installed snapshot
//! rewrites the log whole and renames it into place. Everything is fsynced before the runtime
//! sends a message that depends on it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::election::raft::{
    Disk, DurableChange, DurableLog, Entry, EntryKind, HardState, Snapshot,
};

const RECORD: u64 = 17;
const HEADER: u64 = 24;

/// Why durable state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: corrupt ({0})", path = .1.display())]
    Corrupt(String, PathBuf),
}

/// The node's data dir.
pub struct Storage {
    dir: PathBuf,
    log: File,
    /// What the log file holds (bounded by compaction), to rewrite it when it is compacted.
    mirror: DurableLog,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Storage {
    /// Opens (creating if needed) the data dir and reads what survived.
    pub fn open(dir: &Path) -> Result<(Self, Disk), StorageError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let hs_path = dir.join("hardstate");
        let hard_state = match fs::read(&hs_path) {
            Ok(bytes) => decode_hard_state(&bytes).ok_or_else(|| {
                StorageError::Corrupt("hardstate is not 16 bytes".into(), hs_path.clone())
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HardState::default(),
            Err(e) => return Err(io(&hs_path)(e)),
        };
        let log_path = dir.join("log");
        let mut log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .map_err(io(&log_path))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes).map_err(io(&log_path))?;
        if bytes.is_empty() {
            bytes = encode_snapshot(Snapshot::default()).to_vec();
            log.write_all(&bytes).map_err(io(&log_path))?;
        }
        let Some(snapshot) = bytes.get(..HEADER as usize).map(decode_snapshot) else {
            return Err(StorageError::Corrupt(
                "log header is shorter than 24 bytes".into(),
                log_path,
            ));
        };
        let records = &bytes[HEADER as usize..];
        // A torn final record (crash mid-append) is dropped, as its append was never acknowledged.
        let whole = records.len() as u64 / RECORD * RECORD;
        let mut entries = Vec::with_capacity((whole / RECORD) as usize);
        for rec in records[..whole as usize].chunks_exact(RECORD as usize) {
            entries.push(decode_entry(rec).ok_or_else(|| {
                StorageError::Corrupt(format!("entry kind {}", rec[8]), log_path.clone())
            })?);
        }
        log.set_len(HEADER + whole).map_err(io(&log_path))?;
        log.seek(SeekFrom::End(0)).map_err(io(&log_path))?;
        let mirror = DurableLog { snapshot, entries };
        let disk = Disk {
            hard_state,
            log: mirror.clone(),
        };
        Ok((
            Self {
                dir: dir.to_path_buf(),
                log,
                mirror,
            },
            disk,
        ))
    }

    /// Makes a step's durable changes durable (fsync) — call before sending its messages.
    pub fn persist(&mut self, ready: &DurableChange) -> Result<(), StorageError> {
        let log_path = self.dir.join("log");
        let change = &ready.log;
        if change.install.is_some() || change.compact.is_some() {
            self.mirror.apply(change);
            self.rewrite_log()?;
        } else if !change.is_empty() {
            if let Some(index) = change.truncate_after {
                let kept = index.saturating_sub(self.mirror.snapshot.index);
                self.log
                    .set_len(HEADER + kept * RECORD)
                    .map_err(io(&log_path))?;
                self.log.seek(SeekFrom::End(0)).map_err(io(&log_path))?;
            }
            let mut buf = Vec::with_capacity(change.append.len() * RECORD as usize);
            for e in &change.append {
                encode_entry(&mut buf, e);
            }
            self.log.write_all(&buf).map_err(io(&log_path))?;
            self.log.sync_data().map_err(io(&log_path))?;
            self.mirror.apply(change);
        }
        if let Some(hs) = ready.hard_state {
            let path = self.dir.join("hardstate");
            self.replace(&path, &encode_hard_state(hs))?;
        }
        Ok(())
    }

    /// Writes the mirror as the whole log file, atomically.
    fn rewrite_log(&mut self) -> Result<(), StorageError> {
        let mut bytes = encode_snapshot(self.mirror.snapshot).to_vec();
        for e in &self.mirror.entries {
            encode_entry(&mut bytes, e);
        }
        let path = self.dir.join("log");
        self.replace(&path, &bytes)?;
        self.log = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        self.log.seek(SeekFrom::End(0)).map_err(io(&path))?;
        Ok(())
    }

    /// Replaces `path` with `bytes`: a temporary file, fsynced, renamed over it, the directory
    /// fsynced.
    fn replace(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, path).map_err(io(path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }
}

fn encode_entry(buf: &mut Vec<u8>, e: &Entry) {
    buf.extend_from_slice(&e.term.to_be_bytes());
    let (k, seq) = match e.kind {
        EntryKind::Noop => (0u8, 0u64),
        EntryKind::Write { seq } => (1, seq),
    };
    buf.push(k);
    buf.extend_from_slice(&seq.to_be_bytes());
}

fn decode_entry(rec: &[u8]) -> Option<Entry> {
    let term = u64::from_be_bytes(rec[..8].try_into().ok()?);
    let seq = u64::from_be_bytes(rec[9..17].try_into().ok()?);
    let kind = match rec[8] {
        0 => EntryKind::Noop,
        1 => EntryKind::Write { seq },
        _ => return None,
    };
    Some(Entry { term, kind })
}

fn encode_snapshot(s: Snapshot) -> [u8; HEADER as usize] {
    let mut b = [0u8; HEADER as usize];
    b[..8].copy_from_slice(&s.index.to_be_bytes());
    b[8..16].copy_from_slice(&s.term.to_be_bytes());
    b[16..].copy_from_slice(&s.next_write_seq.to_be_bytes());
    b
}

fn decode_snapshot(b: &[u8]) -> Snapshot {
    let word = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    Snapshot {
        index: word(0),
        term: word(8),
        next_write_seq: word(16),
    }
}

fn encode_hard_state(hs: HardState) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hs.term.to_be_bytes());
    b[8..].copy_from_slice(&(hs.voted_for.map_or(0, u64::from)).to_be_bytes());
    b
}

fn decode_hard_state(b: &[u8]) -> Option<HardState> {
    if b.len() != 16 {
        return None;
    }
    let term = u64::from_be_bytes(b[..8].try_into().ok()?);
    let vote = u64::from_be_bytes(b[8..].try_into().ok()?);
    Some(HardState {
        term,
        voted_for: (vote != 0).then_some(vote as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::election::raft::LogChange;

    fn e(term: u64, seq: u64) -> Entry {
        Entry {
            term,
            kind: EntryKind::Write { seq },
        }
    }

    fn change(log: LogChange) -> DurableChange {
        DurableChange {
            hard_state: None,
            log,
        }
    }

    #[test]
    fn state_survives_reopen_with_truncation() {
        let dir = std::env::temp_dir().join(format!("electune-storage-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        {
            let (mut s, disk) = Storage::open(&dir).unwrap();
            assert_eq!(disk, Disk::default());
            s.persist(&DurableChange {
                hard_state: Some(HardState {
                    term: 4,
                    voted_for: Some(2),
                }),
                log: LogChange {
                    append: vec![e(1, 0), e(1, 1), e(2, 2)],
                    ..LogChange::default()
                },
            })
            .unwrap();
            s.persist(&change(LogChange {
                truncate_after: Some(1),
                append: vec![e(4, 7)],
                ..LogChange::default()
            }))
            .unwrap();
        }
        // A torn record at the end is ignored.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join("log"))
            .unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        let (_, disk) = Storage::open(&dir).unwrap();
        assert_eq!(
            disk.hard_state,
            HardState {
                term: 4,
                voted_for: Some(2)
            }
        );
        assert_eq!(disk.log.entries, vec![e(1, 0), e(4, 7)]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn compaction_and_snapshots_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("electune-compact-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let s1 = Snapshot {
            index: 2,
            term: 1,
            next_write_seq: 2,
        };
        {
            let (mut s, _) = Storage::open(&dir).unwrap();
            s.persist(&change(LogChange {
                append: vec![e(1, 0), e(1, 1), e(1, 2), e(1, 3)],
                compact: Some(s1),
                ..LogChange::default()
            }))
            .unwrap();
            // Truncation and appends after a compaction count from the snapshot.
            s.persist(&change(LogChange {
                truncate_after: Some(3),
                append: vec![e(2, 4)],
                ..LogChange::default()
            }))
            .unwrap();
        }
        let (mut s, disk) = Storage::open(&dir).unwrap();
        assert_eq!(disk.log.snapshot, s1);
        assert_eq!(disk.log.entries, vec![e(1, 2), e(2, 4)]);
        let s2 = Snapshot {
            index: 90,
            term: 5,
            next_write_seq: 80,
        };
        s.persist(&change(LogChange {
            install: Some(s2),
            append: vec![e(5, 80)],
            ..LogChange::default()
        }))
        .unwrap();
        drop(s);
        let (_, disk) = Storage::open(&dir).unwrap();
        assert_eq!(disk.log.snapshot, s2);
        assert_eq!(disk.log.entries, vec![e(5, 80)]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
