//! What an operator does with a state directory: check its journal line by line
//! (`authobot state check`, safe while a plugin serves) and repair a damaged one by keeping
//! the lines before the damage (`authobot state repair --drop-after LINE`, with the plugin
//! stopped, after a backup).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::journal::{self, Format, Reading, Scan, JOURNAL_FILE, SYNCED_FILE};
use super::record::Record;
use super::store::lock_dir;
use super::StoreError;

/// What checking a state directory found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The journal.
    pub path: PathBuf,
    /// What reading every line found; `None` when there is no journal.
    pub scan: Option<Scan>,
    /// The durable mark: the sequence number it says is fsynced, or why it is unreadable.
    pub mark: Result<Option<u64>, String>,
    /// Objects in the record the sound lines build.
    pub objects: u64,
    /// The journal's size in bytes.
    pub bytes: u64,
    /// What the mark says is missing from the journal.
    pub missing: Option<String>,
}

impl Checked {
    /// Whether a plugin starts on this directory (a torn tail is set aside, not refused).
    pub fn sound(&self) -> bool {
        self.mark.is_ok()
            && self.missing.is_none()
            && self.scan.as_ref().is_none_or(|s| s.problem_count == 0)
    }

    /// How many lines a repair can keep: those before the first problem.
    pub fn keepable(&self) -> u64 {
        self.scan.as_ref().map_or(0, |s| s.sound_lines)
    }
}

/// Reads every line of the journal in `state_dir` and says what fails. Takes no lock and
/// writes nothing.
pub fn check(state_dir: &Path) -> Result<Checked, StoreError> {
    let path = state_dir.join(JOURNAL_FILE);
    let mark = match journal::read_mark(state_dir) {
        Ok(mark) => Ok(mark),
        Err(e @ StoreError::Corrupt { .. }) => Err(e.to_string()),
        Err(e) => return Err(e),
    };
    let mut record = Record::default();
    let (scan, bytes) = if path.exists() {
        let scan = journal::scan(&path, &mut record, Reading::Everything, u64::MAX)?;
        let bytes = fs::metadata(&path)
            .map_err(|e| journal::io_error("cannot stat", &path, &e))?
            .len();
        (Some(scan), bytes)
    } else {
        (None, 0)
    };
    let missing = journal::missing(scan.as_ref(), mark.clone().unwrap_or_default());
    Ok(Checked {
        path,
        scan,
        mark,
        objects: record.len() as u64,
        bytes,
        missing,
    })
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "journal:   {}", self.path.display())?;
        match &self.scan {
            None => writeln!(f, "format:    none (no journal)")?,
            Some(scan) => {
                let format = match scan.format {
                    Format::Empty => "empty",
                    Format::Checked => "checksummed",
                    Format::Unchecked => "before checksums (converted on the next start)",
                };
                writeln!(f, "format:    {format}")?;
                writeln!(
                    f,
                    "lines:     {} ({} bytes), the sound ones ending at seq {}",
                    scan.lines, self.bytes, scan.last_seq
                )?;
            }
        }
        match &self.mark {
            Ok(Some(seq)) => writeln!(f, "durable:   seq {seq} fsynced ({SYNCED_FILE})")?,
            Ok(None) => writeln!(f, "durable:   no mark recorded")?,
            Err(e) => writeln!(f, "durable:   {e}")?,
        }
        writeln!(f, "objects:   {}", self.objects)?;
        if let Some(scan) = self.scan.as_ref().filter(|s| s.torn > 0) {
            writeln!(
                f,
                "torn tail: {} bytes after line {}: a write cut short, set aside on the next start",
                scan.torn, scan.lines
            )?;
        }
        let mut problems: Vec<String> = self
            .scan
            .iter()
            .flat_map(|s| &s.problems)
            .map(|p| format!("line {}: {}", p.line, p.what))
            .collect();
        if let Some(scan) = self.scan.as_ref() {
            let unlisted = scan.problem_count - scan.problems.len() as u64;
            if unlisted > 0 {
                problems.push(format!("... and {unlisted} more"));
            }
        }
        problems.extend(self.missing.iter().map(|m| format!("the journal {m}")));
        if problems.is_empty() {
            writeln!(f, "problems:  none")?;
            return writeln!(f, "verdict:   sound: a plugin starts on it");
        }
        for (n, problem) in problems.iter().enumerate() {
            let label = if n == 0 { "problems:" } else { "" };
            writeln!(f, "{label:<10} {problem}")?;
        }
        let dir = self.path.parent().unwrap_or(Path::new(".")).display();
        let keep = self.keepable();
        writeln!(
            f,
            "verdict:   damaged: a plugin refuses to start on it. Restore a backup, or keep the \
             first {keep} lines: `authobot state repair --state-dir {dir} --drop-after {keep}` \
             (it backs the journal up first; objects recorded only in the lines dropped become \
             unknown: admins only, until recorded again)"
        )
    }
}

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// Where the journal was copied first (`None` when there was none).
    pub backup: Option<PathBuf>,
    /// Lines kept and dropped.
    pub kept: u64,
    pub dropped: u64,
    /// Objects in the repaired record.
    pub objects: u64,
}

impl fmt::Display for Repaired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(backup) = &self.backup {
            writeln!(f, "backup:  {}", backup.display())?;
        }
        writeln!(
            f,
            "kept:    lines 1 to {} ({} objects), written again as a checked journal",
            self.kept, self.objects
        )?;
        writeln!(f, "dropped: {} lines", self.dropped)
    }
}

/// Keeps the first `drop_after` lines of the journal in `state_dir` and drops the rest:
/// the journal is copied to `ownership.journal.backup-TIME` first, then written again as a
/// checked journal of the record those lines build, with a new durable mark. Refused while
/// a plugin holds the directory, and when a kept line is itself damaged.
pub fn repair(state_dir: &Path, drop_after: u64) -> Result<Repaired, StoreError> {
    let _held = lock_dir(state_dir)?;
    let path = state_dir.join(JOURNAL_FILE);
    let mut record = Record::default();
    let (scan, backup) = if path.exists() {
        let scan = journal::scan(&path, &mut record, Reading::Everything, drop_after)?;
        if drop_after > scan.sound_lines {
            let reason = match scan.problems.first() {
                Some(problem) => format!("line {} is damaged ({})", problem.line, problem.what),
                None => format!("the journal has {} lines", scan.lines),
            };
            return Err(StoreError::Journal(format!(
                "cannot keep {drop_after} lines of {}: {reason}; --drop-after may be at most {}",
                path.display(),
                scan.sound_lines
            )));
        }
        let backup = journal::unused_name(
            state_dir,
            &format!("{JOURNAL_FILE}.backup-{}", journal::file_time()),
        );
        fs::copy(&path, &backup)
            .and_then(|_| fs::File::open(&backup)?.sync_all())
            .map_err(|e| journal::io_error("cannot back the journal up to", &backup, &e))?;
        (Some(scan), Some(backup))
    } else if drop_after > 0 {
        return Err(StoreError::Journal(format!(
            "there is no journal at {}: only --drop-after 0 (start afresh) applies",
            path.display()
        )));
    } else {
        (None, None)
    };
    let seq = scan.as_ref().map_or(0, |s| s.kept_seq);
    // Without a mark until the new journal is in place: a repair cut short leaves either
    // the old journal or the new one, never a mark that refuses the new one.
    journal::remove_mark(state_dir)?;
    journal::replace_with_snapshot(state_dir, &record, seq)?;
    journal::write_mark(state_dir, seq)
        .map_err(|e| journal::io_error("cannot write", &state_dir.join(SYNCED_FILE), &e))?;
    let lines = scan.as_ref().map_or(0, |s| s.lines);
    Ok(Repaired {
        backup,
        kept: drop_after,
        dropped: lines - drop_after,
        objects: record.len() as u64,
    })
}
