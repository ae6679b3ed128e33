//! The ownership journal on disk (`ownership.journal` in the state directory): one JSON line
//! per primitive change, appended before the change is applied in memory, replayed on open.
//!
//! A plugin killed at any moment (kill -9) loses nothing it answered for: a learn's lines
//! are in the kernel's page cache (one completed write(2)) before the daemon gets its
//! answer. A write cut short leaves at worst a torn last line, which opening drops; a bad
//! line anywhere else means the file was damaged, and opening refuses it (fail closed).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;

use super::record::{Op, Record};
use super::StoreError;

/// The journal's name inside the state directory.
pub const JOURNAL_FILE: &str = "ownership.journal";

/// Where a compaction writes the new journal before renaming it over the old one.
pub(super) const COMPACTING_FILE: &str = "ownership.journal.compacting";

pub(super) fn io_error(what: &str, path: &Path, e: &io::Error) -> StoreError {
    StoreError::Journal(format!("{what} {}: {e}", path.display()))
}

/// Appends `op` to `out` as one line.
pub(super) fn encode(op: &Op, out: &mut Vec<u8>) {
    // Serialising plain strings and integers into a Vec cannot fail.
    serde_json::to_writer(&mut *out, op).expect("an op serialises");
    out.push(b'\n');
}

/// What replaying a journal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Replayed {
    /// The length of its whole lines, in bytes: where the next line goes.
    pub(super) len: u64,
    /// How many whole lines it holds.
    pub(super) lines: u64,
    /// Whether a torn last line followed them.
    pub(super) torn: bool,
}

/// Applies every line of the journal at `path` to `record`, streaming (the file may be far
/// larger than the record it builds). A torn last line is reported, not applied.
pub(super) fn replay(path: &Path, record: &mut Record) -> Result<Replayed, StoreError> {
    let file = File::open(path).map_err(|e| io_error("cannot open", path, &e))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut replayed = Replayed {
        len: 0,
        lines: 0,
        torn: false,
    };
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| io_error("cannot read", path, &e))?;
        if read == 0 {
            return Ok(replayed);
        }
        let whole = line.last() == Some(&b'\n');
        match serde_json::from_slice::<Op>(&line) {
            Ok(op) if whole => {
                record.apply(&op);
                replayed.len += read as u64;
                replayed.lines += 1;
            }
            parsed => {
                let at_end = reader
                    .fill_buf()
                    .map_err(|e| io_error("cannot read", path, &e))?
                    .is_empty();
                if at_end {
                    replayed.torn = true;
                    return Ok(replayed);
                }
                let reason = match parsed {
                    Err(e) => e.to_string(),
                    Ok(_) => "no line end".to_owned(),
                };
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    line: replayed.lines + 1,
                    reason,
                });
            }
        }
    }
}

/// The open journal that learns append to.
#[derive(Debug)]
pub(super) struct Appender {
    /// Opened for appending; shared with the thread that fsyncs it.
    pub(super) file: Arc<File>,
    /// Its length in bytes: everything before is whole lines.
    pub(super) len: u64,
    /// How many lines it holds.
    pub(super) lines: u64,
    /// Why it cannot be appended to any more, after a failed write that could not be undone.
    broken: Option<String>,
}

/// Opens `path` for appending, creating it if missing.
pub(super) fn open_append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|e| io_error("cannot open", path, &e))
}

impl Appender {
    pub(super) fn new(file: File, len: u64, lines: u64) -> Appender {
        Appender {
            file: Arc::new(file),
            len,
            lines,
            broken: None,
        }
    }

    /// Appends `bytes` (`lines` whole lines) in one write, fdatasynced first when `sync`.
    /// On failure the file is cut back to its old length, so the journal holds all of them
    /// or none; if even that fails, every later append fails too (fail closed).
    pub(super) fn append(&mut self, bytes: &[u8], lines: u64, sync: bool) -> io::Result<()> {
        if let Some(why) = &self.broken {
            return Err(io::Error::other(why.clone()));
        }
        let written = (&*self.file).write_all(bytes).and_then(|()| {
            if sync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                self.len += bytes.len() as u64;
                self.lines += lines;
                Ok(())
            }
            Err(e) => {
                if let Err(undo) = self.file.set_len(self.len) {
                    self.broken = Some(format!(
                        "a failed write ({e}) could not be cut back ({undo})"
                    ));
                }
                Err(e)
            }
        }
    }

    /// Replaces the file appended to (after a compaction renamed a new one in).
    pub(super) fn swap(&mut self, file: File, len: u64, lines: u64) {
        *self = Appender::new(file, len, lines);
    }
}
