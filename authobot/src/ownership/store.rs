//! The ownership record of a running plugin: held in memory for lookups, journaled to the
//! state directory for restarts (`ownership.journal`, see [`super::journal`]).
//!
//! A learn takes the write lock, computes its changes against the record, appends them to
//! the journal in one write(2) and only then applies them in memory, so the daemon never
//! gets an answer for a change a restarted plugin would not know. Before writing, a learn
//! checks that the journal's path still names the file it appends to: a journal removed or
//! replaced under the plugin would take what it learns with it at the next start, so
//! nothing is learned until the directory is back (the record in memory is then written
//! there). Lookups share a read lock and never touch the disk. A background thread
//! fdatasyncs the journal every `fsync_interval` (power-loss durability; kill -9 needs only
//! the completed write), records how far it is fsynced (the durable mark), and compacts the
//! journal when it has grown well past the live record. One plugin at a time: the state
//! directory is held with an exclusive `flock`.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use super::journal::{
    self, io_error, Appender, Detached, Format, Reading, Written, COMPACTING_FILE, JOURNAL_FILE,
    SYNCED_FILE, UNCHECKED_FILE,
};
use super::record::Record;
use super::{Change, Lookup, ObjectKind, Owned, Owner, OwnershipView, StoreError};

/// How a writable record is kept on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// How often the journal is fdatasynced when it has changed; zero fdatasyncs inside
    /// every learn before it returns (power-loss durable answers, at a cost in throughput).
    pub fsync_interval: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            fsync_interval: Duration::from_millis(100),
        }
    }
}

/// A journal is compacted once it holds more than this many lines per live object...
const COMPACT_LINES_PER_OBJECT: u64 = 2;
/// ...and is larger than this: rewriting a small journal buys nothing.
const COMPACT_MIN_BYTES: u64 = 1 << 20;
/// How often the background thread looks at the journal when it has nothing to fsync.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Whether a journal of `len` bytes and `lines` lines has grown well past a record of
/// `live` objects (one line each once compacted).
fn outgrown(len: u64, lines: u64, live: u64) -> bool {
    len > COMPACT_MIN_BYTES && lines > COMPACT_LINES_PER_OBJECT.saturating_mul(live)
}

/// A learn whose changes were not recorded: what it had learned, if it ran, and why.
#[derive(Debug)]
pub struct Unrecorded<T> {
    /// The learn's own result, when it ran.
    pub learned: Option<T>,
    /// Why nothing was recorded.
    pub error: StoreError,
}

/// How the journal stands, for `authobot status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalStatus {
    /// The journal file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its lines.
    pub lines: u64,
    /// The sequence number of its last line.
    pub seq: u64,
    /// The highest sequence number known to be fsynced.
    pub durable_seq: u64,
    /// How long the oldest change not yet fsynced has waited (zero when all are).
    pub fsync_lag: Duration,
    /// Objects in the record.
    pub objects: u64,
    /// Whether learns can be recorded (the journal is in place and not left uncut).
    pub writable: bool,
}

/// The record and, when writable, the journal it is appended to.
#[derive(Debug)]
struct State {
    record: Record,
    journal: Option<Appender>,
}

/// What the store and its background thread share.
#[derive(Debug)]
struct Shared {
    state: RwLock<State>,
    /// Taken by every learn before the write lock, and by a compaction while it writes its
    /// snapshot: learns wait for the snapshot while lookups go on (a learn waiting on the
    /// lock itself would hold up new readers too).
    learns: Mutex<()>,
    /// Set by learns, cleared by the fsync that covers them.
    dirty: AtomicBool,
    /// When the oldest change not yet fsynced was written (nanoseconds after `started`),
    /// zero when none waits.
    unsynced_since: AtomicU64,
    /// The highest sequence number known to be fsynced, and the one the mark on disk says.
    durable: AtomicU64,
    marked: AtomicU64,
    /// Whether the background thread has already reported the journal detached, and the
    /// mark unwritable.
    detached_reported: AtomicBool,
    mark_failing: AtomicBool,
    started: Instant,
    dir: PathBuf,
    journal_path: PathBuf,
    options: StoreOptions,
    /// The state directory's `flock`, held for the store's life: no second plugin writes
    /// the same journal. Taken again on the new directory when a removed one comes back.
    lock: Mutex<Option<Flock<File>>>,
}

/// The ownership record, open for reading (and writing, unless opened read-only).
#[derive(Debug)]
pub struct Store {
    shared: Arc<Shared>,
    /// Stops the background thread when dropped; `None` when read-only.
    worker: Option<(Sender<()>, JoinHandle<()>)>,
}

/// Takes the state directory's exclusive lock, without waiting.
pub(super) fn lock_dir(state_dir: &Path) -> Result<Flock<File>, StoreError> {
    let dir = File::open(state_dir).map_err(|e| io_error("cannot open", state_dir, &e))?;
    Flock::lock(dir, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            StoreError::Locked(state_dir.to_owned())
        } else {
            io_error("cannot lock", state_dir, &errno.into())
        }
    })
}

/// Brings the journal in `dir` to a checked, whole state and replays it into `record`:
/// created if missing (when nothing says it existed), a torn tail set aside, a journal in
/// the format before checksums converted (the old file kept beside it). Returns its
/// length, lines and last sequence number.
fn prepare(dir: &Path, record: &mut Record) -> Result<(u64, u64, u64), StoreError> {
    let path = dir.join(JOURNAL_FILE);
    let mark = journal::read_mark(dir)?;
    if !path.exists() {
        if let Some(reason) = journal::missing(None, mark) {
            return Err(StoreError::Incomplete {
                path,
                reason,
                keep: 0,
            });
        }
        let (len, lines) = journal::replace_with_snapshot(dir, record, 0)?;
        return Ok((len, lines, 0));
    }
    let scan = journal::scan(&path, record, Reading::ToFirstProblem, u64::MAX)?;
    if let Some(problem) = scan.problems.first() {
        return Err(StoreError::corrupt(
            &path,
            problem.line,
            problem.what.clone(),
        ));
    }
    if let Some(reason) = journal::missing(Some(&scan), mark) {
        return Err(StoreError::Incomplete {
            path,
            reason,
            keep: scan.lines,
        });
    }
    if scan.torn > 0 {
        let aside = journal::keep_tail(&path, scan.sound_len)?;
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| {
                file.set_len(scan.sound_len)?;
                file.sync_all()
            })
            .map_err(|e| io_error("cannot cut the torn tail off", &path, &e))?;
        tracing::warn!(
            journal = %path.display(),
            kept_in = %aside.display(),
            bytes = scan.torn,
            "a torn last line (a write cut short) was set aside"
        );
    }
    match scan.format {
        Format::Checked => Ok((scan.sound_len, scan.lines, scan.last_seq)),
        Format::Empty | Format::Unchecked => {
            if scan.format == Format::Unchecked {
                let kept = journal::unused_name(dir, UNCHECKED_FILE);
                fs::hard_link(&path, &kept).map_err(|e| io_error("cannot keep", &kept, &e))?;
                tracing::info!(
                    journal = %path.display(),
                    kept_in = %kept.display(),
                    lines = scan.lines,
                    "converting the ownership journal to the checksummed format"
                );
            }
            let (len, lines) = journal::replace_with_snapshot(dir, record, scan.last_seq)?;
            Ok((len, lines, scan.last_seq))
        }
    }
}

impl Store {
    /// Opens (or creates) the record in `state_dir` with the default options.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(state_dir, StoreOptions::default())
    }

    /// Opens (or creates) the record in `state_dir`, creating the directory if needed,
    /// and holds it: a second open fails until this store is dropped. A journal that fails
    /// its checks is refused ([`StoreError::Corrupt`], [`StoreError::Incomplete`]).
    pub fn open_with(state_dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        fs::create_dir_all(state_dir).map_err(|e| io_error("cannot create", state_dir, &e))?;
        let lock = lock_dir(state_dir)?;
        // A compaction cut short left its new journal unfinished: the old one is whole.
        let compacting = state_dir.join(COMPACTING_FILE);
        if compacting.exists() {
            fs::remove_file(&compacting).map_err(|e| io_error("cannot remove", &compacting, &e))?;
        }
        let path = state_dir.join(JOURNAL_FILE);
        let mut record = Record::default();
        let (len, lines, seq) = prepare(state_dir, &mut record)?;
        let file = journal::open_append(&path)?;
        // What a killed plugin wrote may still be in the page cache only: make it durable,
        // so the mark can say so.
        file.sync_data()
            .map_err(|e| io_error("cannot sync", &path, &e))?;
        if journal::read_mark(state_dir)? < Some(seq) {
            journal::write_mark(state_dir, seq)
                .map_err(|e| io_error("cannot write", &state_dir.join(SYNCED_FILE), &e))?;
        }
        let appender =
            Appender::new(file, len, lines, seq).map_err(|e| io_error("cannot stat", &path, &e))?;
        let shared = Arc::new(Shared {
            state: RwLock::new(State {
                record,
                journal: Some(appender),
            }),
            learns: Mutex::new(()),
            dirty: AtomicBool::new(false),
            unsynced_since: AtomicU64::new(0),
            durable: AtomicU64::new(seq),
            marked: AtomicU64::new(seq),
            detached_reported: AtomicBool::new(false),
            mark_failing: AtomicBool::new(false),
            started: Instant::now(),
            dir: state_dir.to_owned(),
            journal_path: path,
            options,
            lock: Mutex::new(Some(lock)),
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let background = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("ownership-journal".into())
            .spawn(move || {
                let tick = match background.options.fsync_interval {
                    interval if interval.is_zero() => CHECK_INTERVAL,
                    interval => interval,
                };
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    background.tend();
                }
            })
            .map_err(|e| io_error("cannot start the journal thread for", state_dir, &e))?;
        Ok(Store {
            shared,
            worker: Some((stop, worker)),
        })
    }

    /// Reads the record in `state_dir` for a one-off decision (`authobot explain`): no
    /// lock is taken and nothing is written, so a running plugin is never blocked; a line
    /// it is writing at that moment is left out like a torn one. A journal that fails its
    /// checks is refused as on open.
    pub fn open_read_only(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join(JOURNAL_FILE);
        if !path.exists() {
            return Err(StoreError::Journal(format!(
                "no ownership record at {}",
                path.display()
            )));
        }
        let mark = journal::read_mark(state_dir)?;
        let mut record = Record::default();
        let scan = journal::scan(&path, &mut record, Reading::ToFirstProblem, u64::MAX)?;
        if let Some(problem) = scan.problems.first() {
            return Err(StoreError::corrupt(
                &path,
                problem.line,
                problem.what.clone(),
            ));
        }
        if let Some(reason) = journal::missing(Some(&scan), mark) {
            return Err(StoreError::Incomplete {
                path,
                reason,
                keep: scan.lines,
            });
        }
        Ok(Store {
            shared: Arc::new(Shared {
                state: RwLock::new(State {
                    record,
                    journal: None,
                }),
                learns: Mutex::new(()),
                dirty: AtomicBool::new(false),
                unsynced_since: AtomicU64::new(0),
                durable: AtomicU64::new(scan.last_seq),
                marked: AtomicU64::new(scan.last_seq),
                detached_reported: AtomicBool::new(false),
                mark_failing: AtomicBool::new(false),
                started: Instant::now(),
                dir: state_dir.to_owned(),
                journal_path: path,
                options: StoreOptions::default(),
                lock: Mutex::new(None),
            }),
            worker: None,
        })
    }

    /// The journal file.
    pub fn path(&self) -> PathBuf {
        self.shared.journal_path.clone()
    }

    /// How the journal stands.
    pub fn status(&self) -> JournalStatus {
        let shared = &self.shared;
        let state = shared.read();
        let since = shared.unsynced_since.load(Ordering::Acquire);
        let fsync_lag = match since {
            0 => Duration::ZERO,
            since => shared
                .started
                .elapsed()
                .saturating_sub(Duration::from_nanos(since)),
        };
        let journal = state.journal.as_ref();
        JournalStatus {
            path: shared.journal_path.clone(),
            bytes: journal.map_or(0, |j| j.len),
            lines: journal.map_or(0, |j| j.lines),
            seq: journal.map_or(0, |j| j.seq),
            durable_seq: shared.durable.load(Ordering::Acquire),
            fsync_lag,
            objects: state.record.len() as u64,
            writable: journal.is_some_and(|j| j.writable(&shared.journal_path)),
        }
    }

    /// Applies `changes`, journaled when this returns.
    pub fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let changes = changes.to_vec();
        self.learn(move |_| ((), changes)).map_err(|e| e.error)
    }

    /// Runs `learn` against the record as every earlier learn left it and records the
    /// changes it returns: journaled (in the page cache, or fdatasynced with a zero
    /// `fsync_interval`) and applied when this returns `Ok`, neither when it fails.
    /// Learns run one at a time; lookups wait only for the journal write.
    pub fn learn<T>(
        &self,
        learn: impl FnOnce(&dyn OwnershipView) -> (T, Vec<Change>),
    ) -> Result<T, Unrecorded<T>> {
        let _one_at_a_time = self.shared.learns();
        let mut state = self.shared.write();
        let computed = catch_unwind(AssertUnwindSafe(|| learn(&state.record)));
        let Ok((learned, changes)) = computed else {
            return Err(Unrecorded {
                learned: None,
                error: StoreError::Journal("a learn panicked".into()),
            });
        };
        let ops = state.record.resolve(changes);
        if ops.is_empty() {
            return Ok(learned);
        }
        let State { record, journal } = &mut *state;
        let Some(journal) = journal else {
            return Err(Unrecorded {
                learned: Some(learned),
                error: StoreError::Journal("the record was opened read-only".into()),
            });
        };
        let path = &self.shared.journal_path;
        if let Err(detached) = journal.attached(path) {
            return Err(Unrecorded {
                learned: Some(learned),
                error: self.shared.detached_error(&detached),
            });
        }
        let mut lines = Vec::with_capacity(ops.len() * 200);
        for (seq, op) in (journal.seq + 1..).zip(&ops) {
            journal::encode(seq, op, &mut lines);
        }
        let sync = self.shared.options.fsync_interval.is_zero();
        if let Err(e) = journal.append(path, &lines, ops.len() as u64, sync) {
            return Err(Unrecorded {
                learned: Some(learned),
                error: io_error("cannot append to", path, &e),
            });
        }
        for op in &ops {
            record.apply(op);
        }
        if sync {
            self.shared.durable.fetch_max(journal.seq, Ordering::AcqRel);
        } else if !self.shared.dirty.swap(true, Ordering::AcqRel) {
            let now = self.shared.started.elapsed().as_nanos();
            let now = u64::try_from(now).unwrap_or(u64::MAX).max(1);
            self.shared.unsynced_since.store(now, Ordering::Release);
        }
        Ok(learned)
    }

    /// Every object of `kind`, in id order (for tests and inspection tools).
    pub fn all(&self, kind: ObjectKind) -> Result<Vec<Owned>, StoreError> {
        Ok(self.shared.read().record.all(kind))
    }

    /// Rewrites the journal as the live record, then the lines appended meanwhile.
    pub fn compact(&self) -> Result<(), StoreError> {
        self.shared.compact()
    }
}

/// A new journal being written by a compaction.
#[derive(Debug)]
struct Compaction {
    written: Written,
    /// The old journal's length and lines when the snapshot was taken: its tail from
    /// there on is appended before the new journal replaces it.
    from_len: u64,
    from_lines: u64,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic under the lock (in a learn) left the record as it was: learns only read it
        // before the journal write, and applying to memory cannot fail.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn learns(&self) -> MutexGuard<'_, ()> {
        self.learns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn detached_error(&self, detached: &Detached) -> StoreError {
        let (reason, remedy) = match detached {
            Detached::Removed => (
                "was removed while the plugin ran (the file or its directory)",
                "the directory exists again (the record held in memory is then written there) or the plugin restarts",
            ),
            Detached::Replaced => (
                "names another file than the one the plugin opened (replaced while it ran)",
                "the plugin restarts (and reads that file) or that file is moved away (the record held in memory is then written there)",
            ),
        };
        StoreError::Detached {
            path: self.journal_path.clone(),
            reason,
            remedy,
        }
    }

    /// One round of the background thread.
    fn tend(&self) {
        self.sync_if_dirty();
        if !self.watch_attachment() {
            return;
        }
        self.mark_durable();
        if self.wants_compaction() {
            if let Err(e) = self.compact() {
                tracing::error!(error = %e, "ownership journal not compacted");
            }
        }
    }

    fn sync_if_dirty(&self) {
        let since = self.unsynced_since.load(Ordering::Acquire);
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let Some((file, seq)) = self
            .read()
            .journal
            .as_ref()
            .map(|j| (Arc::clone(&j.file), j.seq))
        else {
            return;
        };
        match file.sync_data() {
            Ok(()) => {
                self.durable.fetch_max(seq, Ordering::AcqRel);
                // A learn that came after the fsync started keeps its own time.
                let _ = self.unsynced_since.compare_exchange(
                    since,
                    0,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
            Err(e) => {
                tracing::error!(journal = %self.journal_path.display(), error = %e, "ownership journal not fsynced");
                self.dirty.store(true, Ordering::Release);
            }
        }
    }

    /// Records on disk how far the journal is fsynced, when that moved.
    fn mark_durable(&self) {
        let durable = self.durable.load(Ordering::Acquire);
        if durable <= self.marked.load(Ordering::Acquire) {
            return;
        }
        match journal::write_mark(&self.dir, durable) {
            Ok(()) => {
                self.marked.store(durable, Ordering::Release);
                self.mark_failing.store(false, Ordering::Release);
            }
            // Said once until it works again: the thread retries every round.
            Err(e) if !self.mark_failing.swap(true, Ordering::AcqRel) => {
                tracing::error!(mark = %self.dir.join(SYNCED_FILE).display(), error = %e, "durable mark not written");
            }
            Err(_) => {}
        }
    }

    /// Whether the journal's path still names the open journal. When it does not, says so
    /// once; when nothing is there and the directory exists again, writes the record held
    /// in memory there and goes on with it.
    fn watch_attachment(&self) -> bool {
        let detached = match self
            .read()
            .journal
            .as_ref()
            .map(|j| j.attached(&self.journal_path))
        {
            Some(Err(detached)) => detached,
            _ => return true,
        };
        if !self.detached_reported.swap(true, Ordering::AcqRel) {
            tracing::error!(error = %self.detached_error(&detached), "ownership journal lost");
        }
        if detached == Detached::Removed && self.dir.is_dir() {
            match self.reattach() {
                Ok(()) => {
                    self.detached_reported.store(false, Ordering::Release);
                    return true;
                }
                Err(e) => tracing::error!(error = %e, "ownership journal not written again"),
            }
        }
        false
    }

    /// Writes the record held in memory as the journal of the state directory that came
    /// back, under its new lock.
    fn reattach(&self) -> Result<(), StoreError> {
        // Only the journal was removed: the directory is still the one held (a second
        // flock on it would conflict with our own).
        let held = self
            .lock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|held| held.metadata().ok());
        let current =
            fs::metadata(&self.dir).map_err(|e| io_error("cannot stat", &self.dir, &e))?;
        let same_dir =
            held.is_some_and(|held| (held.dev(), held.ino()) == (current.dev(), current.ino()));
        let lock = if same_dir {
            None
        } else {
            Some(lock_dir(&self.dir)?)
        };
        let _no_learns = self.learns();
        let (len, lines) = {
            let state = self.read();
            let Some(journal) = &state.journal else {
                return Ok(());
            };
            if journal.attached(&self.journal_path) != Err(Detached::Removed) {
                return Ok(());
            }
            journal::replace_with_snapshot(&self.dir, &state.record, journal.seq)?
        };
        let file = journal::open_append(&self.journal_path)?;
        let seq = {
            let mut state = self.write();
            let Some(journal) = &mut state.journal else {
                return Ok(());
            };
            journal
                .swap(file, len, lines)
                .map_err(|e| io_error("cannot stat", &self.journal_path, &e))?;
            journal.seq
        };
        if let Some(lock) = lock {
            *self.lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(lock);
        }
        journal::write_mark(&self.dir, seq)
            .map_err(|e| io_error("cannot write", &self.dir.join(SYNCED_FILE), &e))?;
        self.durable.fetch_max(seq, Ordering::AcqRel);
        self.marked.store(seq, Ordering::Release);
        tracing::warn!(
            journal = %self.journal_path.display(),
            objects = lines - 1,
            "ownership journal written again from the record in memory: learns are recorded again"
        );
        Ok(())
    }

    fn wants_compaction(&self) -> bool {
        let state = self.read();
        let live = state.record.len() as u64;
        state
            .journal
            .as_ref()
            .is_some_and(|j| outgrown(j.len, j.lines, live))
    }

    fn compact(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let compaction = self.snapshot()?;
        let learns_waited = started.elapsed();
        let written = &compaction.written;
        written
            .file
            .sync_data()
            .map_err(|e| io_error("cannot sync", &written.path, &e))?;
        let path = written.path.clone();
        let lines = written.lines;
        let file = self.install(compaction).inspect_err(|_| {
            let _ = fs::remove_file(&path);
        })?;
        file.sync_data()
            .map_err(|e| io_error("cannot sync", &self.journal_path, &e))?;
        journal::sync_dir(&self.dir)?;
        tracing::info!(
            live_lines = lines,
            learns_waited_ms = learns_waited.as_millis(),
            took_ms = started.elapsed().as_millis(),
            "ownership journal compacted"
        );
        Ok(())
    }

    /// Writes the live record as a snapshot journal. Learns wait and lookups go on, so the
    /// snapshot is one consistent state.
    fn snapshot(&self) -> Result<Compaction, StoreError> {
        let _no_learns = self.learns();
        let state = self.read();
        let Some(journal) = &state.journal else {
            return Err(StoreError::Journal(
                "the record was opened read-only".into(),
            ));
        };
        let written =
            journal::write_snapshot(&self.dir.join(COMPACTING_FILE), &state.record, journal.seq)?;
        Ok(Compaction {
            from_len: journal.len,
            from_lines: journal.lines,
            written,
        })
    }

    /// Appends the old journal's tail to the new one and renames it in; learns wait.
    fn install(&self, mut compaction: Compaction) -> Result<Arc<File>, StoreError> {
        let mut state = self.write();
        let Some(journal) = &mut state.journal else {
            return Err(StoreError::Journal(
                "the record was opened read-only".into(),
            ));
        };
        let old = &self.journal_path;
        if let Err(detached) = journal.attached(old) {
            return Err(self.detached_error(&detached));
        }
        let tail = journal.len - compaction.from_len;
        let mut source = File::open(old).map_err(|e| io_error("cannot open", old, &e))?;
        source
            .seek(SeekFrom::Start(compaction.from_len))
            .and_then(|_| io::copy(&mut source.take(tail), &mut compaction.written.file))
            .map_err(|e| io_error("cannot copy the tail of", old, &e))?;
        fs::rename(&compaction.written.path, old)
            .map_err(|e| io_error("cannot rename over", old, &e))?;
        let lines = compaction.written.lines + (journal.lines - compaction.from_lines);
        // Appends go to the end whatever the position: the file is reopened for appending.
        let file = journal::open_append(old)?;
        journal
            .swap(file, compaction.written.len + tail, lines)
            .map_err(|e| io_error("cannot stat", old, &e))?;
        Ok(Arc::clone(&journal.file))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some((stop, worker)) = self.worker.take() {
            drop(stop);
            let _ = worker.join();
            // A clean shutdown leaves nothing to the next fsync interval.
            self.shared.dirty.store(true, Ordering::Release);
            self.shared.sync_if_dirty();
            let attached = self
                .shared
                .read()
                .journal
                .as_ref()
                .map(|j| j.attached(&self.shared.journal_path));
            if attached == Some(Ok(())) {
                self.shared.mark_durable();
            }
        }
    }
}

impl OwnershipView for Store {
    fn lookup(&self, kind: ObjectKind, reference: &str) -> Result<Lookup, StoreError> {
        self.shared.read().record.lookup(kind, reference)
    }

    fn networks_named(&self, name: &str) -> Result<Vec<Owned>, StoreError> {
        self.shared.read().record.networks_named(name)
    }

    fn containers_owned(&self, owner: &Owner) -> Result<u64, StoreError> {
        self.shared.read().record.containers_owned(owner)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::io::Write;

    use super::*;

    fn own(kind: ObjectKind, id: &str, owner: &str, name: &str) -> Change {
        Change::Own {
            kind,
            owned: Owned {
                id: id.into(),
                owner: Owner(owner.into()),
                name: name.into(),
                learned_at: 100,
            },
        }
    }

    fn forget(kind: ObjectKind, id: &str) -> Change {
        Change::Forget {
            kind,
            id: id.into(),
        }
    }

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    fn owner_of(store: &Store, kind: ObjectKind, reference: &str) -> Option<String> {
        match store.lookup(kind, reference).unwrap() {
            Lookup::Found(owned) => Some(owned.owner.0),
            _ => None,
        }
    }

    fn journal_text(dir: &Path) -> String {
        fs::read_to_string(dir.join(JOURNAL_FILE)).unwrap()
    }

    fn append_raw(dir: &Path, bytes: &[u8]) {
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(dir.join(JOURNAL_FILE))
            .unwrap();
        file.write_all(bytes).unwrap();
    }

    /// Runs `per_thread` calls of `one` on each of `threads` threads at once.
    fn concurrently(threads: usize, per_thread: usize, one: impl Fn(usize, usize) + Sync) {
        std::thread::scope(|scope| {
            for t in 0..threads {
                let one = &one;
                scope.spawn(move || (0..per_thread).for_each(|i| one(t, i)));
            }
        });
    }

    #[test]
    fn container_resolves_by_id_name_slash_name_and_unique_prefix() {
        let id = "abc123".repeat(10) + "ffff";
        let (_dir, store) = temp_store();
        store
            .apply(&[own(ObjectKind::Container, &id, "alice", "web")])
            .unwrap();
        for reference in [id.as_str(), "web", "/web", "ab", "abc123abc"] {
            assert_eq!(
                owner_of(&store, ObjectKind::Container, reference).as_deref(),
                Some("alice"),
                "{reference}"
            );
        }
        assert_eq!(owner_of(&store, ObjectKind::Container, "abd"), None);
    }

    #[test]
    fn shared_id_prefix_is_ambiguous_across_hex_and_short_ids() {
        let (_dir, store) = temp_store();
        store
            .apply(&[
                own(ObjectKind::Container, "abc1", "alice", "a"),
                own(ObjectKind::Container, &"abc2".repeat(16), "bob", "b"),
            ])
            .unwrap();
        assert_eq!(
            store.lookup(ObjectKind::Container, "abc").unwrap(),
            Lookup::Ambiguous { matches: 2 }
        );
        assert_eq!(
            owner_of(&store, ObjectKind::Container, "abc2").as_deref(),
            Some("bob")
        );
    }

    #[test]
    fn name_wins_over_an_id_prefix_as_in_dockerd() {
        let (_dir, store) = temp_store();
        store
            .apply(&[
                own(ObjectKind::Container, "abc1", "alice", "x"),
                own(ObjectKind::Container, "ffff", "bob", "abc"),
            ])
            .unwrap();
        let Lookup::Found(owned) = store.lookup(ObjectKind::Container, "abc").unwrap() else {
            panic!("not found");
        };
        assert_eq!(owned.id, "ffff");
    }

    #[test]
    fn forgetting_a_container_forgets_its_name_count_and_execs() {
        let (_dir, store) = temp_store();
        store
            .apply(&[
                own(ObjectKind::Container, "c1", "alice", "web"),
                own(ObjectKind::Exec, "e1", "alice", "c1"),
            ])
            .unwrap();
        assert_eq!(store.containers_owned(&Owner("alice".into())).unwrap(), 1);
        store.apply(&[forget(ObjectKind::Container, "c1")]).unwrap();
        assert_eq!(store.containers_owned(&Owner("alice".into())).unwrap(), 0);
        assert_eq!(owner_of(&store, ObjectKind::Container, "web"), None);
        assert_eq!(owner_of(&store, ObjectKind::Exec, "e1"), None);
    }

    #[test]
    fn a_new_container_taking_a_recorded_name_evicts_the_stale_record() {
        let (_dir, store) = temp_store();
        store
            .apply(&[own(ObjectKind::Container, "c1", "alice", "web")])
            .unwrap();
        store
            .apply(&[own(ObjectKind::Container, "c2", "bob", "web")])
            .unwrap();
        let Lookup::Found(owned) = store.lookup(ObjectKind::Container, "web").unwrap() else {
            panic!("web is not bob's alone");
        };
        assert_eq!(owned.id, "c2");
        assert_eq!(store.containers_owned(&Owner("alice".into())).unwrap(), 0);
    }

    #[test]
    fn rename_moves_the_name() {
        let (_dir, store) = temp_store();
        store
            .apply(&[own(ObjectKind::Container, "c1", "alice", "old")])
            .unwrap();
        store
            .apply(&[Change::Rename {
                id: "c1".into(),
                name: "new".into(),
            }])
            .unwrap();
        assert_eq!(owner_of(&store, ObjectKind::Container, "old"), None);
        assert!(owner_of(&store, ObjectKind::Container, "/new").is_some());
    }

    #[test]
    fn networks_may_share_a_name() {
        let (_dir, store) = temp_store();
        store
            .apply(&[
                own(ObjectKind::Network, "n1", "alice", "backend"),
                own(ObjectKind::Network, "n2", "bob", "backend"),
            ])
            .unwrap();
        assert_eq!(store.networks_named("backend").unwrap().len(), 2);
        assert_eq!(
            store.lookup(ObjectKind::Network, "backend").unwrap(),
            Lookup::Ambiguous { matches: 2 }
        );
    }

    #[test]
    fn exec_and_volume_answer_to_their_full_id_only() {
        let (_dir, store) = temp_store();
        store
            .apply(&[
                own(ObjectKind::Exec, "e123", "alice", "c1"),
                own(ObjectKind::Volume, "data", "alice", ""),
            ])
            .unwrap();
        assert_eq!(owner_of(&store, ObjectKind::Exec, "e1"), None);
        assert_eq!(owner_of(&store, ObjectKind::Volume, "dat"), None);
        assert!(owner_of(&store, ObjectKind::Volume, "data").is_some());
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .apply(&[
                    own(ObjectKind::Network, "n1", "bob", "backend"),
                    own(ObjectKind::Container, "c1", "alice", "web"),
                    own(ObjectKind::Exec, "e1", "alice", "c1"),
                    Change::Rename {
                        id: "c1".into(),
                        name: "front".into(),
                    },
                ])
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.networks_named("backend").unwrap().len(), 1);
        assert_eq!(
            owner_of(&store, ObjectKind::Container, "front").as_deref(),
            Some("alice")
        );
        assert!(owner_of(&store, ObjectKind::Exec, "e1").is_some());
    }

    #[test]
    fn the_journal_is_a_header_then_one_json_line_per_primitive_change() {
        let (dir, store) = temp_store();
        store
            .apply(&[
                own(ObjectKind::Container, "old", "alice", "a"),
                own(ObjectKind::Container, "new", "alice", "b"),
            ])
            .unwrap();
        store
            .apply(&[Change::Reconcile {
                present: BTreeSet::from(["new".to_owned()]),
                learned_before: 101,
            }])
            .unwrap();
        let mut lines: Vec<serde_json::Value> = journal_text(dir.path())
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        for line in &mut lines {
            assert!(line["crc"].as_str().is_some_and(|crc| crc.len() == 8));
            line.as_object_mut().unwrap().remove("crc");
        }
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], serde_json::json!({"seq":0,"snapshot":0}));
        assert_eq!(
            lines[1],
            serde_json::json!({"seq":1,"op":"own","kind":"container","id":"old","owner":"alice","name":"a","learned_at":100})
        );
        assert_eq!(
            lines[3],
            serde_json::json!({"seq":3,"op":"forget","kind":"container","id":"old"})
        );
    }

    #[test]
    fn a_learn_that_changes_nothing_writes_nothing() {
        let (dir, store) = temp_store();
        let before = journal_text(dir.path());
        store
            .apply(&[Change::Reconcile {
                present: BTreeSet::new(),
                learned_before: 1,
            }])
            .unwrap();
        assert_eq!(journal_text(dir.path()), before);
    }

    /// A journal holding alice's c1 and bob's c2 (lines 2 and 3), the store closed.
    fn two_owned(dir: &Path) {
        Store::open(dir)
            .unwrap()
            .apply(&[
                own(ObjectKind::Container, "c1", "alice", "web"),
                own(ObjectKind::Container, "c2", "bob", "db"),
            ])
            .unwrap();
    }

    fn rewrite_journal(dir: &Path, edit: impl FnOnce(&mut Vec<String>)) {
        let mut lines: Vec<String> = journal_text(dir).lines().map(str::to_owned).collect();
        edit(&mut lines);
        fs::write(dir.join(JOURNAL_FILE), lines.join("\n") + "\n").unwrap();
    }

    fn refusal(dir: &Path) -> String {
        Store::open(dir).unwrap_err().to_string()
    }

    #[test]
    fn a_torn_last_line_is_set_aside_beside_the_journal_and_cut_away() {
        let dir = tempfile::tempdir().unwrap();
        two_owned(dir.path());
        let whole = journal_text(dir.path());
        let torn = br#"{"crc":"00000000","seq":3,"op":"own","kind":"container","id":"c3","ow"#;
        append_raw(dir.path(), torn);
        let store = Store::open(dir.path()).unwrap();
        assert!(owner_of(&store, ObjectKind::Container, "c1").is_some());
        assert_eq!(journal_text(dir.path()), whole);
        let aside: Vec<PathBuf> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(journal::TORN_PREFIX))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(fs::read(&aside[0]).unwrap(), torn);
        store
            .apply(&[own(ObjectKind::Container, "c3", "bob", "cache")])
            .unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert!(owner_of(&store, ObjectKind::Container, "c3").is_some());
    }

    #[test]
    fn a_complete_but_damaged_last_line_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        two_owned(dir.path());
        rewrite_journal(dir.path(), |lines| {
            let last = lines.last_mut().unwrap();
            *last = last.replace("\"db\"", "\"dc\"");
        });
        let error = refusal(dir.path());
        let expected = format!("{JOURNAL_FILE}, line 3, is corrupt (checksum mismatch");
        assert!(error.contains(&expected), "{error}");
    }

    /// The issue's flipped bit: `dev1` became `dev3`, still valid JSON, and dev3 was
    /// allowed on dev1's container.
    #[test]
    fn a_flipped_bit_in_an_owner_refuses_to_open_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        Store::open(dir.path())
            .unwrap()
            .apply(&[
                own(ObjectKind::Container, "c1", "dev1", "web"),
                own(ObjectKind::Container, "c2", "dev2", "db"),
            ])
            .unwrap();
        rewrite_journal(dir.path(), |lines| {
            lines[1] = lines[1].replace("dev1", "dev3")
        });
        let error = refusal(dir.path());
        let journal = dir.path().join(JOURNAL_FILE).display().to_string();
        assert!(error.contains(&journal), "{error}");
        assert!(
            error.contains("line 2, is corrupt (checksum mismatch"),
            "{error}"
        );
        assert!(error.contains("--drop-after 1"), "{error}");
        assert!(Store::open_read_only(dir.path()).is_err());
    }

    #[test]
    fn a_removed_line_is_a_sequence_gap() {
        let dir = tempfile::tempdir().unwrap();
        two_owned(dir.path());
        Store::open(dir.path())
            .unwrap()
            .apply(&[forget(ObjectKind::Container, "c1")])
            .unwrap();
        rewrite_journal(dir.path(), |lines| {
            lines.remove(2);
        });
        let error = refusal(dir.path());
        let expected = "line 3, is corrupt (sequence gap: expected seq 2, found 3";
        assert!(error.contains(expected), "{error}");
    }

    #[test]
    fn a_repeated_line_is_out_of_sequence() {
        let dir = tempfile::tempdir().unwrap();
        two_owned(dir.path());
        rewrite_journal(dir.path(), |lines| {
            let first = lines[1].clone();
            lines.push(first);
        });
        let error = refusal(dir.path());
        assert!(
            error.contains("line 4, is corrupt (sequence out of order"),
            "{error}"
        );
    }

    #[test]
    fn a_journal_cut_at_a_line_boundary_below_the_durable_mark_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        two_owned(dir.path());
        rewrite_journal(dir.path(), |lines| {
            lines.pop();
        });
        let error = refusal(dir.path());
        let expected = "is incomplete: it ends at seq 1, yet lines up to seq 2 had been fsynced";
        assert!(error.contains(expected), "{error}");
    }

    #[test]
    fn a_journal_emptied_or_removed_is_refused_once_a_mark_exists() {
        let dir = tempfile::tempdir().unwrap();
        two_owned(dir.path());
        fs::write(dir.path().join(JOURNAL_FILE), b"").unwrap();
        assert!(refusal(dir.path()).contains("it is empty, yet lines up to seq 2"));
        fs::remove_file(dir.path().join(JOURNAL_FILE)).unwrap();
        assert!(refusal(dir.path()).contains("it is missing, yet lines up to seq 2"));
    }

    #[test]
    fn a_journal_cut_inside_its_snapshot_is_refused_even_without_a_mark() {
        let dir = tempfile::tempdir().unwrap();
        two_owned(dir.path());
        Store::open(dir.path()).unwrap().compact().unwrap();
        fs::remove_file(dir.path().join(SYNCED_FILE)).unwrap();
        rewrite_journal(dir.path(), |lines| {
            lines.pop();
        });
        let error = refusal(dir.path());
        let expected = "line 3, is corrupt (the file ends 1 lines into the 2 its snapshot header";
        assert!(error.contains(expected), "{error}");
    }

    #[test]
    fn a_journal_in_the_format_before_checksums_is_converted_and_kept_beside() {
        let dir = tempfile::tempdir().unwrap();
        let old = concat!(
            r#"{"op":"own","kind":"container","id":"c1","owner":"alice","name":"web","learned_at":1}"#,
            "\n",
            r#"{"op":"own","kind":"container","id":"c2","owner":"bob","name":"db","learned_at":1}"#,
            "\n",
            r#"{"op":"forget","kind":"container","id":"c2"}"#,
            "\n",
        );
        fs::write(dir.path().join(JOURNAL_FILE), old).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            owner_of(&store, ObjectKind::Container, "web").as_deref(),
            Some("alice")
        );
        assert_eq!(owner_of(&store, ObjectKind::Container, "db"), None);
        let kept = fs::read_to_string(dir.path().join(journal::UNCHECKED_FILE)).unwrap();
        assert_eq!(kept, old);
        store
            .apply(&[own(ObjectKind::Container, "c3", "carol", "cache")])
            .unwrap();
        drop(store);
        // A snapshot of one object ending at seq 3 (the old journal's lines), then seq 4.
        let text = journal_text(dir.path());
        let first = text.lines().next().unwrap();
        assert!(first.ends_with(r#""seq":2,"snapshot":1}"#), "{text}");
        let last = text.lines().last().unwrap();
        assert!(last.contains(r#""seq":4,"op":"own""#), "{text}");
        let store = Store::open(dir.path()).unwrap();
        assert!(owner_of(&store, ObjectKind::Container, "cache").is_some());
    }

    #[test]
    fn a_damaged_line_in_the_format_before_checksums_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(JOURNAL_FILE), "{\"op\":\"own\"}\n").unwrap();
        assert!(refusal(dir.path()).contains("line 1, is corrupt"));
        assert!(!dir.path().join(journal::UNCHECKED_FILE).exists());
    }

    #[test]
    fn a_second_store_on_the_same_directory_is_refused() {
        let (dir, _held) = temp_store();
        let error = Store::open(dir.path()).unwrap_err();
        assert!(matches!(error, StoreError::Locked(_)), "{error}");
    }

    #[test]
    fn a_read_only_open_sees_a_held_record_without_blocking_it() {
        let (dir, held) = temp_store();
        held.apply(&[own(ObjectKind::Container, "c1", "alice", "web")])
            .unwrap();
        let reader = Store::open_read_only(dir.path()).unwrap();
        assert!(owner_of(&reader, ObjectKind::Container, "web").is_some());
        assert!(reader
            .apply(&[own(ObjectKind::Container, "c2", "bob", "db")])
            .is_err());
        held.apply(&[forget(ObjectKind::Container, "c1")]).unwrap();
    }

    #[test]
    fn a_failed_journal_write_changes_nothing_and_is_reported() {
        let (dir, store) = temp_store();
        {
            // A handle that cannot be written to stands for a full or failing disk.
            let mut state = store.shared.write();
            let journal = state.journal.as_mut().unwrap();
            let read_only = File::open(dir.path().join(JOURNAL_FILE)).unwrap();
            let (len, lines) = (journal.len, journal.lines);
            journal.swap(read_only, len, lines).unwrap();
        }
        let failed = store.learn(|_| (7, vec![own(ObjectKind::Container, "c1", "alice", "web")]));
        assert!(matches!(
            failed,
            Err(Unrecorded {
                learned: Some(7),
                ..
            })
        ));
        assert_eq!(owner_of(&store, ObjectKind::Container, "c1"), None);
    }

    #[test]
    fn a_failed_write_that_could_not_be_cut_back_is_cut_back_by_the_next_learn() {
        let (dir, store) = temp_store();
        store
            .apply(&[own(ObjectKind::Container, "c1", "alice", "web")])
            .unwrap();
        {
            // On this handle both the write and the cut fail, as on a filesystem that went
            // read-only mid-write.
            let mut state = store.shared.write();
            let journal = state.journal.as_mut().unwrap();
            let read_only = File::open(dir.path().join(JOURNAL_FILE)).unwrap();
            let (len, lines) = (journal.len, journal.lines);
            journal.swap(read_only, len, lines).unwrap();
        }
        let failed = store.apply(&[own(ObjectKind::Container, "c2", "bob", "db")]);
        assert!(failed.is_err());
        // What of the failed write reached the file before the error.
        append_raw(
            dir.path(),
            br#"{"crc":"00000000","seq":2,"op":"own","kind""#,
        );
        store
            .apply(&[own(ObjectKind::Container, "c3", "carol", "cache")])
            .unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert!(owner_of(&store, ObjectKind::Container, "web").is_some());
        assert_eq!(owner_of(&store, ObjectKind::Container, "db"), None);
        assert!(owner_of(&store, ObjectKind::Container, "cache").is_some());
        let set_aside = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with(journal::TORN_PREFIX)
            })
            .count();
        assert_eq!(set_aside, 0, "the failed write was cut back, not left torn");
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "not {what} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn learns_are_refused_once_the_state_directory_is_removed_and_recorded_when_it_is_back() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("state");
        let store = Store::open(&dir).unwrap();
        store
            .apply(&[own(ObjectKind::Container, "c1", "alice", "web")])
            .unwrap();
        fs::remove_dir_all(&dir).unwrap();
        let error = store
            .apply(&[own(ObjectKind::Container, "c2", "bob", "db")])
            .unwrap_err();
        assert!(matches!(error, StoreError::Detached { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("was removed while the plugin ran"),
            "{error}"
        );
        assert_eq!(owner_of(&store, ObjectKind::Container, "db"), None);
        assert!(!store.status().writable);

        fs::create_dir(&dir).unwrap();
        wait_until("written again", || store.status().writable);
        store
            .apply(&[own(ObjectKind::Container, "c3", "carol", "cache")])
            .unwrap();
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert!(owner_of(&store, ObjectKind::Container, "web").is_some());
        assert!(owner_of(&store, ObjectKind::Container, "cache").is_some());
    }

    #[test]
    fn a_journal_removed_from_its_directory_is_written_again_from_memory() {
        let (dir, store) = temp_store();
        store
            .apply(&[own(ObjectKind::Container, "c1", "alice", "web")])
            .unwrap();
        fs::remove_file(dir.path().join(JOURNAL_FILE)).unwrap();
        wait_until("written again", || {
            dir.path().join(JOURNAL_FILE).exists() && store.status().writable
        });
        store
            .apply(&[own(ObjectKind::Container, "c2", "bob", "db")])
            .unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert!(owner_of(&store, ObjectKind::Container, "web").is_some());
        assert!(owner_of(&store, ObjectKind::Container, "db").is_some());
    }

    #[test]
    fn learns_are_refused_while_another_file_is_at_the_journals_path() {
        let (dir, store) = temp_store();
        let path = dir.path().join(JOURNAL_FILE);
        fs::rename(&path, dir.path().join("moved")).unwrap();
        fs::write(&path, "").unwrap();
        let error = store
            .apply(&[own(ObjectKind::Container, "c1", "alice", "web")])
            .unwrap_err();
        assert!(error.to_string().contains("names another file"), "{error}");
        assert_eq!(fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn status_counts_the_journal_and_how_far_it_is_fsynced() {
        let (dir, store) = temp_store();
        store
            .apply(&[
                own(ObjectKind::Container, "c1", "alice", "web"),
                own(ObjectKind::Volume, "v1", "alice", ""),
            ])
            .unwrap();
        let status = store.status();
        assert_eq!((status.lines, status.seq, status.objects), (3, 2, 2));
        assert_eq!(status.bytes, journal_text(dir.path()).len() as u64);
        assert!(status.writable);
        wait_until("fsynced", || store.status().durable_seq == 2);
        assert_eq!(store.status().fsync_lag, Duration::ZERO);
        wait_until("marked", || {
            journal::read_mark(dir.path()).unwrap() == Some(2)
        });
    }

    #[test]
    fn a_learn_that_panics_fails_closed_and_later_learns_still_record() {
        let (_dir, store) = temp_store();
        let failed = store.learn(|_| -> ((), Vec<Change>) { panic!("a bug in a learn") });
        assert!(failed.is_err());
        store
            .apply(&[own(ObjectKind::Container, "abc", "bob", "web")])
            .unwrap();
        assert_eq!(store.containers_owned(&Owner("bob".into())).unwrap(), 1);
    }

    #[test]
    fn concurrent_creates_for_several_users_are_all_recorded_and_counted() {
        let (dir, store) = temp_store();
        let users = ["alice", "bob", "carol", "dave"];
        concurrently(8, 25, |t, i| {
            let user = users[(t + i) % users.len()];
            let change = own(
                ObjectKind::Container,
                &format!("{t:02}{i:02}"),
                user,
                &format!("c-{t}-{i}"),
            );
            store.apply(&[change]).unwrap();
        });
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        for user in users {
            assert_eq!(store.containers_owned(&Owner(user.into())).unwrap(), 50);
        }
        assert_eq!(store.all(ObjectKind::Container).unwrap().len(), 200);
        assert_eq!(
            owner_of(&store, ObjectKind::Container, "0724").as_deref(),
            Some(users[(7 + 24) % 4])
        );
    }

    #[test]
    fn each_learn_sees_every_learn_before_it_as_if_serialised() {
        // Each learn names its container after the count it reads: learns that missed one
        // another would read the same count, pick the same name and evict each other.
        let (_dir, store) = temp_store();
        let alice = Owner("alice".into());
        concurrently(8, 20, |t, i| {
            let id = format!("{t:02}{i:02}");
            store
                .learn(|view: &dyn OwnershipView| {
                    let seen = view.containers_owned(&alice).unwrap();
                    (
                        (),
                        vec![own(
                            ObjectKind::Container,
                            &id,
                            "alice",
                            &format!("n{seen}"),
                        )],
                    )
                })
                .unwrap();
        });
        let names: BTreeSet<String> = store
            .all(ObjectKind::Container)
            .unwrap()
            .into_iter()
            .map(|owned| owned.name)
            .collect();
        let expected: BTreeSet<String> = (0..160).map(|n| format!("n{n}")).collect();
        assert_eq!(names, expected);
    }

    /// A record with containers, a renamed one, execs, volumes and networks, some forgotten.
    fn varied(store: &Store, round: usize) {
        let id = |n: usize| format!("{:064x}", round * 1000 + n);
        for n in 0..20 {
            store
                .apply(&[own(
                    ObjectKind::Container,
                    &id(n),
                    "alice",
                    &format!("r{round}c{n}"),
                )])
                .unwrap();
        }
        store
            .apply(&[
                own(ObjectKind::Exec, &format!("e{round}"), "alice", &id(1)),
                own(ObjectKind::Exec, &format!("f{round}"), "alice", &id(2)),
                own(ObjectKind::Volume, &format!("v{round}"), "bob", ""),
                own(ObjectKind::Network, &format!("n{round}"), "bob", "shared"),
                forget(ObjectKind::Container, &id(2)),
                Change::Rename {
                    id: id(3),
                    name: format!("r{round}renamed"),
                },
            ])
            .unwrap();
    }

    fn contents(store: &Store) -> Vec<Vec<Owned>> {
        [
            ObjectKind::Container,
            ObjectKind::Exec,
            ObjectKind::Volume,
            ObjectKind::Network,
        ]
        .into_iter()
        .map(|kind| store.all(kind).unwrap())
        .collect()
    }

    #[test]
    fn compaction_keeps_the_record_and_shrinks_the_journal() {
        let (dir, store) = temp_store();
        for round in 0..5 {
            varied(&store, round);
            store
                .apply(&[forget(
                    ObjectKind::Container,
                    &format!("{:064x}", round * 1000 + 5),
                )])
                .unwrap();
        }
        let before = contents(&store);
        let journal_before = journal_text(dir.path()).len();
        store.compact().unwrap();
        assert!(journal_text(dir.path()).len() < journal_before);
        assert_eq!(contents(&store), before);
        varied(&store, 9);
        let after = contents(&store);
        drop(store);
        let reopened = Store::open(dir.path()).unwrap();
        assert_eq!(contents(&reopened), after);
    }

    /// Every point where a compaction can be cut short reopens to the full record, including
    /// what learns appended while the snapshot was written.
    #[test]
    fn a_compaction_cut_short_at_any_step_reopens_to_the_full_record() {
        for stop_after in ["snapshot", "sync", "install"] {
            let dir = tempfile::tempdir().unwrap();
            let expected = {
                let store = Store::open(dir.path()).unwrap();
                varied(&store, 0);
                let compaction = store.shared.snapshot().unwrap();
                varied(&store, 1);
                match stop_after {
                    "snapshot" => drop(compaction),
                    "sync" => compaction.written.file.sync_data().unwrap(),
                    _ => drop(store.shared.install(compaction).unwrap()),
                }
                contents(&store)
            };
            let reopened = Store::open(dir.path()).unwrap();
            assert_eq!(contents(&reopened), expected, "cut after {stop_after}");
            assert!(!dir.path().join(COMPACTING_FILE).exists());
        }
    }

    #[test]
    fn lookups_go_on_while_a_snapshot_holds_up_learns() {
        let (_dir, store) = temp_store();
        store
            .apply(&[own(ObjectKind::Container, "c1", "alice", "web")])
            .unwrap();
        std::thread::scope(|scope| {
            // What a compaction holds while it writes its snapshot.
            let no_learns = store.shared.learns();
            let reading = store.shared.read();
            let learner = scope.spawn(|| {
                store
                    .apply(&[own(ObjectKind::Container, "c2", "bob", "db")])
                    .unwrap()
            });
            std::thread::sleep(Duration::from_millis(50));
            let (found, answer) = mpsc::channel();
            let store = &store;
            scope.spawn(move || found.send(owner_of(store, ObjectKind::Container, "web")));
            let answer = answer.recv_timeout(Duration::from_secs(5));
            assert_eq!(answer, Ok(Some("alice".to_owned())));
            assert!(!learner.is_finished());
            drop((reading, no_learns));
        });
        assert!(owner_of(&store, ObjectKind::Container, "db").is_some());
    }

    #[test]
    fn a_journal_is_outgrown_when_large_and_mostly_dead_lines() {
        let mib = 1 << 20;
        assert!(outgrown(2 * mib, 10_000, 10));
        assert!(
            !outgrown(mib / 2, 10_000, 10),
            "small journals are left alone"
        );
        assert!(!outgrown(2 * mib, 10_000, 5_000), "half the lines are live");
        assert!(outgrown(2 * mib, 10_001, 5_000));
    }

    #[test]
    fn the_background_thread_compacts_an_outgrown_journal() {
        let (dir, store) = temp_store();
        let name = "n".repeat(300);
        for n in 0..5000 {
            let id = format!("{n:064x}");
            // Each container takes the name from the one before: one stays live.
            store
                .apply(&[own(ObjectKind::Container, &id, "alice", &name)])
                .unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // It may have run while the lines were appended: some of them are gone.
        while journal_text(dir.path()).lines().count() >= 5000 {
            assert!(std::time::Instant::now() < deadline, "not compacted");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.all(ObjectKind::Container).unwrap().len(), 1);
    }
}
