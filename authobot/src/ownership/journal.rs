//! The ownership journal on disk (`ownership.journal` in the state directory): a
//! self-checking log of primitive changes, appended before a change is applied in memory and
//! replayed on open, checked line by line the way write-ahead logs are.
//!
//! Every line is one JSON object that starts with its own CRC-32C and a sequence number:
//!
//! ```text
//! {"crc":"3a1f09c2","seq":0,"snapshot":1}
//! {"crc":"7d02e611","seq":1,"op":"own","kind":"container","id":"c1","owner":"alice","name":"web","learned_at":1764377000}
//! {"crc":"0b5e44f7","seq":2,"op":"forget","kind":"container","id":"c1"}
//! ```
//!
//! The checksum covers every byte after `{"crc":"XXXXXXXX",` up to the closing brace, the
//! sequence number included. The first line is a snapshot header `{"seq":B,"snapshot":N}`:
//! the N lines after it (all `own`) are the live record as a compaction wrote it, numbered
//! B+1 to B+N, and every later line takes the next number. Numbers never go back, across
//! compactions too, so the highest number known to be fsynced (the durable mark,
//! `ownership.journal.synced`) bounds what a journal must still hold.
//!
//! What opening proves, and what it cannot:
//! - a changed byte anywhere (a flipped bit, an edited owner): its line's checksum fails;
//! - a line removed, repeated or moved: the sequence breaks (lines inside the snapshot may
//!   swap places undetected: they are independent, so their order changes nothing);
//! - a journal cut at a line boundary inside its snapshot, emptied, or removed: the header's
//!   count, the header itself, or the file is missing while the mark says it existed;
//! - a journal cut at a line boundary after its snapshot: detected down to the durable mark
//!   only. The lines of the last fsync interval can go undetected, as a power loss may lose
//!   them anyway; so can any cut if the mark is removed with it;
//! - deliberate rewriting: CRC-32C is no signature, whoever can write the state directory can
//!   write a line and its checksum.
//!
//! A write cut short (kill -9 mid-write, a full disk) leaves a torn last line, one without a
//! newline: opening moves those bytes to a file beside the journal and goes on. A complete
//! line that fails a check is damage, last or not: opening refuses it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::{Op, Record};
use super::StoreError;

/// The journal's name inside the state directory.
pub const JOURNAL_FILE: &str = "ownership.journal";

/// The durable mark: the highest sequence number known to have been fsynced.
pub const SYNCED_FILE: &str = "ownership.journal.synced";

/// Where a journal in the format before checksums is kept once converted.
pub const UNCHECKED_FILE: &str = "ownership.journal.v1";

/// The start of the name of a file holding a torn tail set aside on open.
pub const TORN_PREFIX: &str = "ownership.journal.torn-";

/// Where a compaction writes the new journal before renaming it over the old one.
pub(super) const COMPACTING_FILE: &str = "ownership.journal.compacting";

/// Where a new durable mark is written before it is renamed over the old one.
const SYNCED_NEW_FILE: &str = "ownership.journal.synced.new";

/// How every line starts.
const CRC_KEY: &[u8] = b"{\"crc\":\"";

/// The length of `{"crc":"XXXXXXXX",`: the checksum covers the rest of the line.
const SEALED_FROM: usize = 18;

pub(super) fn io_error(what: &str, path: &Path, e: &io::Error) -> StoreError {
    StoreError::Journal(format!("{what} {}: {e}", path.display()))
}

/// Starts a line at the end of `out`: the checksum's place and the sequence number.
fn begin(out: &mut Vec<u8>, seq: u64) -> usize {
    let start = out.len();
    out.extend_from_slice(b"{\"crc\":\"00000000\",\"seq\":");
    push_decimal(out, seq);
    start
}

/// Writes the checksum of the line begun at `start` into it and ends the line.
fn seal(out: &mut Vec<u8>, start: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let crc = crc32c::crc32c(&out[start + SEALED_FROM..]);
    for (i, digit) in out[start + 8..start + 16].iter_mut().enumerate() {
        *digit = HEX[(crc >> (28 - 4 * i) & 0xf) as usize];
    }
    out.push(b'\n');
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `op` to `out` as the line numbered `seq`.
pub(super) fn encode(seq: u64, op: &Op, out: &mut Vec<u8>) {
    let start = begin(out, seq);
    let object = out.len();
    // Serialising plain strings and integers into a Vec cannot fail.
    serde_json::to_writer(&mut *out, op).expect("an op serialises");
    // The op's own opening brace becomes the comma after the sequence number.
    out[object] = b',';
    seal(out, start);
}

/// Appends a snapshot header numbered `seq`, announcing `records` lines of snapshot.
fn encode_header(seq: u64, records: u64, out: &mut Vec<u8>) {
    let start = begin(out, seq);
    out.extend_from_slice(b",\"snapshot\":");
    push_decimal(out, records);
    out.push(b'}');
    seal(out, start);
}

/// Appends the durable mark's line: `seq` is known to be fsynced.
fn encode_mark(seq: u64, out: &mut Vec<u8>) {
    let start = begin(out, seq);
    out.push(b'}');
    seal(out, start);
}

/// What one checked line holds.
#[derive(Debug)]
pub(super) enum Entry {
    /// A snapshot header: the next `records` lines are the compacted record.
    Snapshot { records: u64 },
    /// A change.
    Change(Op),
    /// The durable mark.
    Mark,
}

fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Checks one line (without its newline) and reads its sequence number and entry.
/// `scratch` is reused between lines.
pub(super) fn decode(line: &[u8], scratch: &mut Vec<u8>) -> Result<(u64, Entry), String> {
    if !line.starts_with(CRC_KEY) || line.len() < SEALED_FROM || &line[16..18] != b"\"," {
        return Err("not a checksummed line".into());
    }
    let hex = &line[8..16];
    // Lower case only: a flipped case bit must not read as the same checksum.
    let recorded = hex
        .iter()
        .all(|d| matches!(d, b'0'..=b'9' | b'a'..=b'f'))
        .then(|| std::str::from_utf8(hex).ok())
        .flatten()
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or("its checksum is not 8 lower-case hex digits")?;
    let sealed = &line[SEALED_FROM..];
    let computed = crc32c::crc32c(sealed);
    if recorded != computed {
        return Err(format!(
            "checksum mismatch: the line says {recorded:08x}, its content gives {computed:08x}"
        ));
    }
    let rest = sealed
        .strip_prefix(b"\"seq\":")
        .ok_or("no sequence number")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let seq = decimal(&rest[..digits]).ok_or("no sequence number")?;
    let rest = &rest[digits..];
    let entry = if rest == b"}" {
        Entry::Mark
    } else if let Some(count) = rest
        .strip_prefix(b",\"snapshot\":")
        .and_then(|r| r.strip_suffix(b"}"))
    {
        Entry::Snapshot {
            records: decimal(count).ok_or("a snapshot header without a record count")?,
        }
    } else if let Some(fields) = rest.strip_prefix(b",") {
        scratch.clear();
        scratch.push(b'{');
        scratch.extend_from_slice(fields);
        Entry::Change(serde_json::from_slice(scratch).map_err(|e| format!("not a change: {e}"))?)
    } else {
        return Err("not a journal line".into());
    };
    Ok((seq, entry))
}

/// How a journal file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// No whole line at all.
    Empty,
    /// Checksummed, numbered lines under a snapshot header (this version).
    Checked,
    /// One bare JSON change per line: the format before checksums, converted on open.
    Unchecked,
}

/// A line that fails its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Its number, from 1 (one past the last line when the file ends too early).
    pub line: u64,
    /// What is wrong with it.
    pub what: String,
}

/// What reading a journal found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// How it is written.
    pub format: Format,
    /// Whole lines read.
    pub lines: u64,
    /// Whole lines before the first problem: all of them when there is none.
    pub sound_lines: u64,
    /// The bytes of those lines: where the next line goes.
    pub sound_len: u64,
    /// The sequence number of the last sound line (an unchecked journal: its line count).
    pub last_seq: u64,
    /// The sequence number of the last line applied to the record.
    pub kept_seq: u64,
    /// Bytes after the last newline: a torn last line.
    pub torn: u64,
    /// What fails, in file order (the first few when there are many).
    pub problems: Vec<Problem>,
    /// How many problems there are in all.
    pub problem_count: u64,
}

/// At most this many problems are kept with their text.
const KEPT_PROBLEMS: usize = 20;

impl Scan {
    fn problem(&mut self, line: u64, what: String) {
        self.problem_count += 1;
        if self.problems.len() < KEPT_PROBLEMS {
            self.problems.push(Problem { line, what });
        }
    }
}

/// How far to read a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    /// Up to the first problem (opening: one problem refuses the file).
    ToFirstProblem,
    /// Every line, checking each (`authobot state check`).
    Everything,
}

/// The rules a checked journal's lines keep, line after line.
#[derive(Debug, Default)]
struct Sequence {
    /// The number the next line must carry; `None` before the header.
    next: Option<u64>,
    /// Snapshot lines still to come, and how many the header announced.
    snapshot_left: u64,
    announced: u64,
}

impl Sequence {
    fn check(
        &mut self,
        number: u64,
        line: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Result<Option<Op>, String> {
        let (seq, entry) = decode(line, scratch)?;
        // Later lines are judged against this one even if it is out of place, so that one
        // moved line is reported once rather than as every line after it.
        let expected = self.next.replace(seq.saturating_add(1));
        match entry {
            Entry::Snapshot { records } if number == 1 => {
                self.snapshot_left = records;
                self.announced = records;
                Ok(None)
            }
            Entry::Snapshot { .. } => Err("a snapshot header that is not the first line".into()),
            Entry::Mark => Err("a durable mark, not a journal line".into()),
            Entry::Change(_) if number == 1 => {
                Err("the journal does not start with its snapshot header".into())
            }
            Entry::Change(op) => {
                if let Some(expected) = expected.filter(|&e| e != seq) {
                    return Err(if seq > expected {
                        format!(
                            "sequence gap: expected seq {expected}, found {seq} ({} lines missing)",
                            seq - expected
                        )
                    } else {
                        format!("sequence out of order: expected seq {expected}, found {seq} (a repeated or moved line)")
                    });
                }
                if self.snapshot_left > 0 {
                    self.snapshot_left -= 1;
                    if !matches!(op, Op::Own { .. }) {
                        return Err("a snapshot line that is not an own".into());
                    }
                }
                Ok(Some(op))
            }
        }
    }
}

/// Reads the journal at `path`, checking every line it reads, and applies the sound lines
/// numbered up to `apply_through` to `record`, streaming (the file may be far larger than
/// the record it builds).
pub(super) fn scan(
    path: &Path,
    record: &mut Record,
    reading: Reading,
    apply_through: u64,
) -> Result<Scan, StoreError> {
    let file = File::open(path).map_err(|e| io_error("cannot open", path, &e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut scan = Scan {
        format: Format::Empty,
        lines: 0,
        sound_lines: 0,
        sound_len: 0,
        last_seq: 0,
        kept_seq: 0,
        torn: 0,
        problems: Vec::new(),
        problem_count: 0,
    };
    let mut sequence = Sequence::default();
    let (mut line, mut scratch) = (Vec::new(), Vec::new());
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| io_error("cannot read", path, &e))?;
        if read == 0 {
            break;
        }
        let Some(content) = line.strip_suffix(b"\n") else {
            scan.torn = read as u64;
            break;
        };
        scan.lines += 1;
        let number = scan.lines;
        if number == 1 {
            scan.format = if content.starts_with(CRC_KEY) {
                Format::Checked
            } else {
                Format::Unchecked
            };
        }
        let checked = match scan.format {
            Format::Checked => sequence.check(number, content, &mut scratch),
            _ => serde_json::from_slice::<Op>(content)
                .map(Some)
                .map_err(|e| format!("not a change: {e}")),
        };
        match checked {
            Ok(op) if scan.problem_count == 0 => {
                let seq = match scan.format {
                    Format::Checked => sequence.next.map_or(0, |next| next - 1),
                    _ => number,
                };
                if number <= apply_through {
                    if let Some(op) = &op {
                        record.apply(op);
                    }
                    scan.kept_seq = seq;
                }
                scan.sound_lines = number;
                scan.sound_len += read as u64;
                scan.last_seq = seq;
            }
            Ok(_) => {}
            Err(what) => {
                scan.problem(number, what);
                if reading == Reading::ToFirstProblem {
                    return Ok(scan);
                }
            }
        }
    }
    if sequence.snapshot_left > 0 {
        let what = format!(
            "the file ends {} lines into the {} its snapshot header (line 1) announces: it was cut short",
            sequence.announced - sequence.snapshot_left,
            sequence.announced
        );
        scan.problem(scan.lines + 1, what);
    }
    Ok(scan)
}

/// What the durable mark `mark` says is missing from a journal read as `scan` (`None`: no
/// file at all), if anything.
pub(super) fn missing(scan: Option<&Scan>, mark: Option<u64>) -> Option<String> {
    let seq = mark?;
    let synced = format!("lines up to seq {seq} had been fsynced (says {SYNCED_FILE})");
    match scan.map(|s| (s.format, s.last_seq)) {
        None => Some(format!("it is missing, yet {synced}")),
        Some((Format::Empty, _)) => Some(format!("it is empty, yet {synced}")),
        Some((Format::Unchecked, _)) => Some(format!(
            "it is in the format before checksums, yet a checksummed journal had been here: {synced} (an old backup put back?)"
        )),
        Some((Format::Checked, last)) if last < seq => Some(format!(
            "it ends at seq {last}, yet {synced}: the lines after were cut away"
        )),
        Some((Format::Checked, _)) => None,
    }
}

/// Reads the durable mark of the journal in `dir`: `None` when there is none.
pub(super) fn read_mark(dir: &Path) -> Result<Option<u64>, StoreError> {
    let path = dir.join(SYNCED_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("cannot read", &path, &e)),
    };
    let line = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    match decode(line, &mut Vec::new()) {
        Ok((seq, Entry::Mark)) => Ok(Some(seq)),
        Ok(_) => Err(StoreError::corrupt(&path, 1, "not a durable mark".into())),
        Err(what) => Err(StoreError::corrupt(&path, 1, what)),
    }
}

/// Records that the journal in `dir` is fsynced up to `seq`: written beside it, fsynced, then
/// renamed over the old mark, so the mark on disk is always one whole line.
pub(super) fn write_mark(dir: &Path, seq: u64) -> io::Result<()> {
    let new = dir.join(SYNCED_NEW_FILE);
    let mut line = Vec::with_capacity(48);
    encode_mark(seq, &mut line);
    let file = File::create(&new)?;
    (&file).write_all(&line)?;
    file.sync_data()?;
    fs::rename(&new, dir.join(SYNCED_FILE))
}

/// Removes the durable mark (a repair starts the count afresh from what it kept).
pub(super) fn remove_mark(dir: &Path) -> Result<(), StoreError> {
    let path = dir.join(SYNCED_FILE);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("cannot remove", &path, &e)),
        _ => Ok(()),
    }
}

/// `base` in `dir`, or `base.1`, `base.2`, ... for the first name not taken.
pub(super) fn unused_name(dir: &Path, base: &str) -> PathBuf {
    let mut path = dir.join(base);
    let mut n = 0;
    while path.symlink_metadata().is_ok() {
        n += 1;
        path = dir.join(format!("{base}.{n}"));
    }
    path
}

/// The time as it goes into names of files set aside: `20261129T004107Z`.
pub(super) fn file_time() -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_else(|_| "unknown-time".into())
}

/// Copies the bytes of the journal at `path` from `from` on into a new file beside it
/// (`ownership.journal.torn-TIME`), fsynced, and returns that file's path. The journal is
/// not changed.
pub(super) fn keep_tail(path: &Path, from: u64) -> Result<PathBuf, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let aside = unused_name(dir, &format!("{TORN_PREFIX}{}", file_time()));
    let mut tail = Vec::new();
    File::open(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::Start(from))?;
            f.read_to_end(&mut tail)
        })
        .map_err(|e| io_error("cannot read the torn tail of", path, &e))?;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&aside)
        .and_then(|mut f| {
            f.write_all(&tail)?;
            f.sync_all()
        })
        .map_err(|e| io_error("cannot keep the torn tail in", &aside, &e))?;
    sync_dir(dir)?;
    Ok(aside)
}

/// Makes the names in `dir` durable (a rename, a new file).
pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("cannot sync", dir, &e))
}

/// A journal written whole: a snapshot, before it is renamed into place.
#[derive(Debug)]
pub(super) struct Written {
    pub(super) file: File,
    pub(super) path: PathBuf,
    /// Its length and lines so far.
    pub(super) len: u64,
    pub(super) lines: u64,
}

/// Writes `record` at `path` (created or emptied) as a journal whose snapshot ends at
/// sequence number `seq`: its header, then one `own` line per object. Not fsynced.
pub(super) fn write_snapshot(
    path: &Path,
    record: &Record,
    seq: u64,
) -> Result<Written, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .read(true)
        .open(path)
        .map_err(|e| io_error("cannot create", path, &e))?;
    let records = record.len() as u64;
    // Every live object was made by a line of its own, so a record never has more objects
    // than the sequence has lines.
    let base = seq.checked_sub(records).ok_or_else(|| {
        StoreError::Journal(format!(
            "cannot number a snapshot of {records} objects ending at seq {seq}"
        ))
    })?;
    let mut out = BufWriter::with_capacity(64 << 10, &file);
    let mut line = Vec::with_capacity(256);
    encode_header(base, records, &mut line);
    let mut len = line.len() as u64;
    out.write_all(&line)
        .map_err(|e| io_error("cannot write", path, &e))?;
    for (n, op) in (base + 1..).zip(record.as_owns()) {
        line.clear();
        encode(n, &op, &mut line);
        out.write_all(&line)
            .map_err(|e| io_error("cannot write", path, &e))?;
        len += line.len() as u64;
    }
    out.flush()
        .map_err(|e| io_error("cannot write", path, &e))?;
    drop(out);
    Ok(Written {
        file,
        path: path.to_owned(),
        len,
        lines: records + 1,
    })
}

/// Writes `record` as the journal of `dir` ending at `seq`, durably: beside it first, then
/// renamed over whatever is there. Returns its length and lines.
pub(super) fn replace_with_snapshot(
    dir: &Path,
    record: &Record,
    seq: u64,
) -> Result<(u64, u64), StoreError> {
    let written = write_snapshot(&dir.join(COMPACTING_FILE), record, seq)?;
    written
        .file
        .sync_data()
        .map_err(|e| io_error("cannot sync", &written.path, &e))?;
    let path = dir.join(JOURNAL_FILE);
    fs::rename(&written.path, &path).map_err(|e| io_error("cannot rename over", &path, &e))?;
    sync_dir(dir)?;
    Ok((written.len, written.lines))
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
    /// The sequence number of its last line.
    pub(super) seq: u64,
    /// Which file it is (device, inode): the journal's path must still name it.
    identity: (u64, u64),
    /// Why it cannot be appended to until it is cut back: a failed write left bytes in it.
    uncut: Option<String>,
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

/// Why learns cannot be recorded in the journal the plugin holds open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Detached {
    /// Nothing is at the journal's path any more (the file or its directory was removed).
    Removed,
    /// Another file is at the journal's path.
    Replaced,
}

impl Appender {
    pub(super) fn new(file: File, len: u64, lines: u64, seq: u64) -> Result<Appender, io::Error> {
        let meta = file.metadata()?;
        Ok(Appender {
            file: Arc::new(file),
            len,
            lines,
            seq,
            identity: (meta.dev(), meta.ino()),
            uncut: None,
        })
    }

    /// Whether `path` still names the file appended to.
    pub(super) fn attached(&self, path: &Path) -> Result<(), Detached> {
        match fs::metadata(path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.identity => Ok(()),
            Ok(_) => Err(Detached::Replaced),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Detached::Removed),
            // Unreadable: not provably the same file.
            Err(_) => Err(Detached::Replaced),
        }
    }

    /// Whether a learn can be appended now: the file is in place and no failed write is
    /// left in it.
    pub(super) fn writable(&self, path: &Path) -> bool {
        self.uncut.is_none() && self.attached(path).is_ok()
    }

    /// Appends `bytes` (`lines` whole lines) in one write, fdatasynced first when `sync`.
    /// On failure the file is cut back to its old length, so the journal holds all of them
    /// or none; if even that fails, the next append tries again (on the same file, then on
    /// the file reopened at `path`) and appends only once the cut succeeded.
    pub(super) fn append(
        &mut self,
        path: &Path,
        bytes: &[u8],
        lines: u64,
        sync: bool,
    ) -> io::Result<()> {
        if self.uncut.is_some() {
            self.cut_back(path)?;
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
                self.seq += lines;
                Ok(())
            }
            Err(e) => {
                if let Err(undo) = self.file.set_len(self.len) {
                    let why = format!("a failed write ({e}) could not be cut back ({undo})");
                    tracing::error!(journal = %path.display(), "{why}; the next learn tries again");
                    self.uncut = Some(why);
                }
                Err(e)
            }
        }
    }

    /// Cuts the journal back to its last whole line after a failed write: on the open file,
    /// or else on the file reopened at `path` if it is still the same one.
    fn cut_back(&mut self, path: &Path) -> io::Result<()> {
        let why = self.uncut.clone().unwrap_or_default();
        let cut = self.file.set_len(self.len).or_else(|first| {
            let reopened = OpenOptions::new().append(true).read(true).open(path)?;
            let meta = reopened.metadata()?;
            if (meta.dev(), meta.ino()) != self.identity {
                return Err(first);
            }
            reopened.set_len(self.len)?;
            self.file = Arc::new(reopened);
            Ok(())
        });
        if let Err(e) = cut {
            return Err(io::Error::new(
                e.kind(),
                format!("{why}; cutting it back again failed ({e})"),
            ));
        }
        self.uncut = None;
        tracing::warn!(
            journal = %path.display(),
            "ownership journal recovered: the failed write ({why}) is cut back, learns are recorded again"
        );
        Ok(())
    }

    /// Replaces the file appended to (after a compaction renamed a new one in).
    pub(super) fn swap(&mut self, file: File, len: u64, lines: u64) -> Result<(), io::Error> {
        *self = Appender::new(file, len, lines, self.seq)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ownership::ObjectKind;

    fn own(id: &str, owner: &str) -> Op {
        Op::Own {
            kind: ObjectKind::Container,
            id: id.into(),
            owner: owner.into(),
            name: "web".into(),
            learned_at: 100,
        }
    }

    fn line_of(seq: u64, op: &Op) -> Vec<u8> {
        let mut out = Vec::new();
        encode(seq, op, &mut out);
        out
    }

    #[test]
    fn a_line_is_its_checksum_its_number_and_the_change_as_json() {
        let line = line_of(7, &own("c1", "alice"));
        let text = std::str::from_utf8(&line).unwrap();
        assert!(text.starts_with("{\"crc\":\""), "{text}");
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(value["seq"], 7);
        assert_eq!(value["op"], "own");
        assert_eq!(value["owner"], "alice");
        let crc = u32::from_str_radix(value["crc"].as_str().unwrap(), 16).unwrap();
        assert_eq!(crc, crc32c::crc32c(&line[SEALED_FROM..line.len() - 1]));
    }

    #[test]
    fn a_line_decodes_to_its_number_and_change() {
        let line = line_of(42, &own("c1", "alice"));
        let (seq, entry) = decode(&line[..line.len() - 1], &mut Vec::new()).unwrap();
        assert_eq!(seq, 42);
        assert!(matches!(entry, Entry::Change(op) if op == own("c1", "alice")));
    }

    #[test]
    fn one_flipped_bit_in_an_owner_fails_the_checksum() {
        let mut line = line_of(1, &own("c1", "dev1"));
        let at = line.windows(4).position(|w| w == b"dev1").unwrap() + 3;
        line[at] ^= 0b10; // dev1 -> dev3: still valid JSON, still a user name
        let error = decode(&line[..line.len() - 1], &mut Vec::new()).unwrap_err();
        assert!(error.starts_with("checksum mismatch"), "{error}");
    }

    #[test]
    fn a_header_and_a_mark_decode_as_such() {
        let mut header = Vec::new();
        encode_header(5, 3, &mut header);
        assert!(matches!(
            decode(&header[..header.len() - 1], &mut Vec::new()),
            Ok((5, Entry::Snapshot { records: 3 }))
        ));
        let mut mark = Vec::new();
        encode_mark(9, &mut mark);
        assert!(matches!(
            decode(&mark[..mark.len() - 1], &mut Vec::new()),
            Ok((9, Entry::Mark))
        ));
    }

    #[test]
    fn a_line_without_a_checksum_is_not_a_checked_line() {
        let error = decode(
            br#"{"op":"forget","kind":"container","id":"c1"}"#,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(error, "not a checksummed line");
    }
}
