//! The ownership record of a running plugin: held in memory for lookups, journaled to the
//! state directory for restarts (`ownership.journal`, see [`super::journal`]).
//!
//! A learn takes the write lock, computes its changes against the record, appends them to
//! the journal in one write(2) and only then applies them in memory, so the daemon never
//! gets an answer for a change a restarted plugin would not know. Lookups share a read
//! lock and never touch the disk. A background thread fdatasyncs the journal every
//! `fsync_interval` (power-loss durability; kill -9 needs only the completed write) and
//! compacts it when it has grown well past the live record. One plugin at a time: the
//! state directory is held with an exclusive `flock`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use super::journal::{self, io_error, Appender, COMPACTING_FILE, JOURNAL_FILE};
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
    dir: PathBuf,
    options: StoreOptions,
}

/// The ownership record, open for reading (and writing, unless opened read-only).
#[derive(Debug)]
pub struct Store {
    shared: Arc<Shared>,
    /// Stops the background thread when dropped; `None` when read-only.
    worker: Option<(Sender<()>, JoinHandle<()>)>,
    /// Held for the store's life: no second plugin writes the same journal.
    _lock: Option<Flock<File>>,
}

impl Store {
    /// Opens (or creates) the record in `state_dir` with the default options.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(state_dir, StoreOptions::default())
    }

    /// Opens (or creates) the record in `state_dir`, creating the directory if needed,
    /// and holds it: a second open fails until this store is dropped.
    pub fn open_with(state_dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        fs::create_dir_all(state_dir).map_err(|e| io_error("cannot create", state_dir, &e))?;
        let dir = File::open(state_dir).map_err(|e| io_error("cannot open", state_dir, &e))?;
        let lock = Flock::lock(dir, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
            if errno == nix::errno::Errno::EWOULDBLOCK {
                StoreError::Locked(state_dir.to_owned())
            } else {
                io_error("cannot lock", state_dir, &errno.into())
            }
        })?;
        // A compaction cut short left its new journal unfinished: the old one is whole.
        let compacting = state_dir.join(COMPACTING_FILE);
        if compacting.exists() {
            fs::remove_file(&compacting).map_err(|e| io_error("cannot remove", &compacting, &e))?;
        }
        let path = state_dir.join(JOURNAL_FILE);
        let created = !path.exists();
        let file = journal::open_append(&path)?;
        if created {
            lock.sync_all()
                .map_err(|e| io_error("cannot sync", state_dir, &e))?;
        }
        let mut record = Record::default();
        let replayed = journal::replay(&path, &mut record)?;
        if replayed.torn {
            tracing::warn!(journal = %path.display(), "dropping a torn last line (a write cut short)");
            file.set_len(replayed.len)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error("cannot truncate", &path, &e))?;
        }
        let shared = Arc::new(Shared {
            state: RwLock::new(State {
                record,
                journal: Some(Appender::new(file, replayed.len, replayed.lines)),
            }),
            learns: Mutex::new(()),
            dirty: AtomicBool::new(false),
            dir: state_dir.to_owned(),
            options,
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
                    background.sync_if_dirty();
                    if background.wants_compaction() {
                        if let Err(e) = background.compact() {
                            tracing::error!(error = %e, "ownership journal not compacted");
                        }
                    }
                }
            })
            .map_err(|e| io_error("cannot start the journal thread for", state_dir, &e))?;
        Ok(Store {
            shared,
            worker: Some((stop, worker)),
            _lock: Some(lock),
        })
    }

    /// Reads the record in `state_dir` for a one-off decision (`authobot explain`): no
    /// lock is taken and nothing is written, so a running plugin is never blocked; a line
    /// it is writing at that moment is left out like a torn one.
    pub fn open_read_only(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join(JOURNAL_FILE);
        if !path.exists() {
            return Err(StoreError::Journal(format!(
                "no ownership record at {}",
                path.display()
            )));
        }
        let mut record = Record::default();
        journal::replay(&path, &mut record)?;
        Ok(Store {
            shared: Arc::new(Shared {
                state: RwLock::new(State {
                    record,
                    journal: None,
                }),
                learns: Mutex::new(()),
                dirty: AtomicBool::new(false),
                dir: state_dir.to_owned(),
                options: StoreOptions::default(),
            }),
            worker: None,
            _lock: None,
        })
    }

    /// The journal file.
    pub fn path(&self) -> PathBuf {
        self.shared.dir.join(JOURNAL_FILE)
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
        let mut lines = Vec::with_capacity(ops.len() * 160);
        for op in &ops {
            journal::encode(op, &mut lines);
        }
        let sync = self.shared.options.fsync_interval.is_zero();
        if let Err(e) = journal.append(&lines, ops.len() as u64, sync) {
            let error = io_error("cannot append to", &self.path(), &e);
            return Err(Unrecorded {
                learned: Some(learned),
                error,
            });
        }
        for op in &ops {
            record.apply(op);
        }
        self.shared.dirty.store(!sync, Ordering::Release);
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
    file: File,
    path: PathBuf,
    /// Its length and lines so far.
    len: u64,
    lines: u64,
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

    fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    fn sync_if_dirty(&self) {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let file = self.read().journal.as_ref().map(|j| Arc::clone(&j.file));
        if let Some(Err(e)) = file.map(|f| f.sync_data()) {
            tracing::error!(journal = %self.journal_path().display(), error = %e, "ownership journal not fsynced");
            self.dirty.store(true, Ordering::Release);
        }
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
        compaction
            .file
            .sync_data()
            .map_err(|e| io_error("cannot sync", &compaction.path, &e))?;
        let path = compaction.path.clone();
        let lines = compaction.lines;
        let file = self.install(compaction).inspect_err(|_| {
            let _ = fs::remove_file(&path);
        })?;
        self.sync_after_install(&file)?;
        tracing::info!(
            live_lines = lines,
            learns_waited_ms = learns_waited.as_millis(),
            took_ms = started.elapsed().as_millis(),
            "ownership journal compacted"
        );
        Ok(())
    }

    /// Writes the live record as own-lines to a new journal. Learns wait and lookups go
    /// on, so the snapshot is one consistent state.
    fn snapshot(&self) -> Result<Compaction, StoreError> {
        let path = self.dir.join(COMPACTING_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .read(true)
            .open(&path)
            .map_err(|e| io_error("cannot create", &path, &e))?;
        let _no_learns = self.learns();
        let state = self.read();
        let Some(journal) = &state.journal else {
            return Err(StoreError::Journal(
                "the record was opened read-only".into(),
            ));
        };
        let mut out = BufWriter::with_capacity(64 << 10, &file);
        let mut line = Vec::with_capacity(256);
        let (mut len, mut lines) = (0u64, 0u64);
        for op in state.record.as_owns() {
            line.clear();
            journal::encode(&op, &mut line);
            out.write_all(&line)
                .map_err(|e| io_error("cannot write", &path, &e))?;
            len += line.len() as u64;
            lines += 1;
        }
        out.flush()
            .map_err(|e| io_error("cannot write", &path, &e))?;
        drop(out);
        Ok(Compaction {
            from_len: journal.len,
            from_lines: journal.lines,
            file,
            path,
            len,
            lines,
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
        let old = self.journal_path();
        let tail = journal.len - compaction.from_len;
        let mut source = File::open(&old).map_err(|e| io_error("cannot open", &old, &e))?;
        source
            .seek(SeekFrom::Start(compaction.from_len))
            .and_then(|_| io::copy(&mut source.take(tail), &mut compaction.file))
            .map_err(|e| io_error("cannot copy the tail of", &old, &e))?;
        fs::rename(&compaction.path, &old).map_err(|e| io_error("cannot rename over", &old, &e))?;
        let lines = compaction.lines + (journal.lines - compaction.from_lines);
        // Appends go to the end whatever the position: the file is reopened for appending.
        let file = journal::open_append(&old)?;
        journal.swap(file, compaction.len + tail, lines);
        Ok(Arc::clone(&journal.file))
    }

    /// Makes the new journal and its name durable.
    fn sync_after_install(&self, file: &File) -> Result<(), StoreError> {
        file.sync_data()
            .map_err(|e| io_error("cannot sync", &self.journal_path(), &e))?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| io_error("cannot sync", &self.dir, &e))
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
    fn the_journal_is_one_json_line_per_primitive_change() {
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
        let lines: Vec<serde_json::Value> = journal_text(dir.path())
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            serde_json::json!({"op":"own","kind":"container","id":"old","owner":"alice","name":"a","learned_at":100})
        );
        assert_eq!(
            lines[2],
            serde_json::json!({"op":"forget","kind":"container","id":"old"})
        );
    }

    #[test]
    fn a_learn_that_changes_nothing_writes_nothing() {
        let (dir, store) = temp_store();
        store
            .apply(&[Change::Reconcile {
                present: BTreeSet::new(),
                learned_before: 1,
            }])
            .unwrap();
        assert_eq!(journal_text(dir.path()), "");
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_cut_away_on_open() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap().apply(&[own(
            ObjectKind::Container,
            "c1",
            "alice",
            "web",
        )]));
        let whole = journal_text(dir.path());
        append_raw(
            dir.path(),
            br#"{"op":"own","kind":"container","id":"c2","ow"#,
        );
        let store = Store::open(dir.path()).unwrap();
        assert!(owner_of(&store, ObjectKind::Container, "c1").is_some());
        assert_eq!(journal_text(dir.path()), whole);
        store
            .apply(&[own(ObjectKind::Container, "c3", "bob", "db")])
            .unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert!(owner_of(&store, ObjectKind::Container, "c3").is_some());
    }

    #[test]
    fn a_whole_but_unreadable_last_line_is_dropped_too() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        append_raw(dir.path(), b"{\"op\":\"own\"}\n");
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.all(ObjectKind::Container).unwrap(), Vec::new());
        assert_eq!(journal_text(dir.path()), "");
    }

    #[test]
    fn a_bad_line_before_the_last_refuses_to_open_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap().apply(&[own(
            ObjectKind::Container,
            "c1",
            "alice",
            "web",
        )]));
        append_raw(dir.path(), b"garbage\n");
        append_raw(
            dir.path(),
            b"{\"op\":\"forget\",\"kind\":\"container\",\"id\":\"c1\"}\n",
        );
        let error = Store::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains(JOURNAL_FILE), "{error}");
        assert!(error.contains("line 2"), "{error}");
        assert!(Store::open_read_only(dir.path()).is_err());
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
            journal.swap(read_only, 0, 0);
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
                    "sync" => compaction.file.sync_data().unwrap(),
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
