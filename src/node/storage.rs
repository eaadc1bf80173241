//! Durable state in the data dir: `hardstate` (term and vote, replaced atomically) and `log`
//! (fixed 17-byte records, appended and truncated in place). Everything is fsynced before the
//! runtime sends a message that depends on it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::election::raft::{DurableChange, Entry, EntryKind, HardState};

const RECORD: u64 = 17;

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
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Storage {
    /// Opens (creating if needed) the data dir and reads what survived.
    pub fn open(dir: &Path) -> Result<(Self, HardState, Vec<Entry>), StorageError> {
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
        // A torn final record (crash mid-append) is dropped, as its append was never acknowledged.
        let whole = bytes.len() as u64 / RECORD * RECORD;
        let mut entries = Vec::with_capacity((whole / RECORD) as usize);
        for rec in bytes[..whole as usize].chunks_exact(RECORD as usize) {
            let term = u64::from_be_bytes(rec[..8].try_into().expect("8 bytes"));
            let seq = u64::from_be_bytes(rec[9..17].try_into().expect("8 bytes"));
            let kind = match rec[8] {
                0 => EntryKind::Noop,
                1 => EntryKind::Write { seq },
                k => return Err(StorageError::Corrupt(format!("entry kind {k}"), log_path)),
            };
            entries.push(Entry { term, kind });
        }
        log.set_len(whole).map_err(io(&log_path))?;
        log.seek(SeekFrom::End(0)).map_err(io(&log_path))?;
        Ok((
            Self {
                dir: dir.to_path_buf(),
                log,
            },
            hard_state,
            entries,
        ))
    }

    /// Makes a step's durable changes durable (fsync) — call before sending its messages.
    pub fn persist(&mut self, ready: &DurableChange) -> Result<(), StorageError> {
        let log_path = self.dir.join("log");
        let log_changed = ready.truncate_log_after.is_some() || !ready.append_entries.is_empty();
        if let Some(index) = ready.truncate_log_after {
            self.log.set_len(index * RECORD).map_err(io(&log_path))?;
            self.log.seek(SeekFrom::End(0)).map_err(io(&log_path))?;
        }
        if !ready.append_entries.is_empty() {
            let mut buf = Vec::with_capacity(ready.append_entries.len() * RECORD as usize);
            for e in &ready.append_entries {
                buf.extend_from_slice(&e.term.to_be_bytes());
                let (k, seq) = match e.kind {
                    EntryKind::Noop => (0u8, 0u64),
                    EntryKind::Write { seq } => (1, seq),
                };
                buf.push(k);
                buf.extend_from_slice(&seq.to_be_bytes());
            }
            self.log.write_all(&buf).map_err(io(&log_path))?;
        }
        if log_changed {
            self.log.sync_data().map_err(io(&log_path))?;
        }
        if let Some(hs) = ready.hard_state {
            let path = self.dir.join("hardstate");
            let tmp = self.dir.join("hardstate.tmp");
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&encode_hard_state(hs)).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            fs::rename(&tmp, &path).map_err(io(&path))?;
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io(&self.dir))?;
        }
        Ok(())
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

    #[test]
    fn state_survives_reopen_with_truncation() {
        let dir = std::env::temp_dir().join(format!("electune-storage-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let e = |term, seq| Entry {
            term,
            kind: EntryKind::Write { seq },
        };
        {
            let (mut s, hs, log) = Storage::open(&dir).unwrap();
            assert_eq!(hs, HardState::default());
            assert!(log.is_empty());
            s.persist(&DurableChange {
                hard_state: Some(HardState {
                    term: 4,
                    voted_for: Some(2),
                }),
                append_entries: vec![e(1, 0), e(1, 1), e(2, 2)],
                ..DurableChange::default()
            })
            .unwrap();
            s.persist(&DurableChange {
                truncate_log_after: Some(1),
                append_entries: vec![e(4, 7)],
                ..DurableChange::default()
            })
            .unwrap();
        }
        // A torn record at the end is ignored.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join("log"))
            .unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        let (_, hs, log) = Storage::open(&dir).unwrap();
        assert_eq!(
            hs,
            HardState {
                term: 4,
                voted_for: Some(2)
            }
        );
        assert_eq!(log, vec![e(1, 0), e(4, 7)]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
