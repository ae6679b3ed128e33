//! Group commit for the ownership record: concurrent learns share one redb write
//! transaction and one fsync instead of paying one each.
//!
//! One committer thread owns all writing. A learn is sent to it as a job; the thread takes
//! every job waiting, opens one write transaction, runs the jobs one after another (each
//! reads the transaction, so it sees the changes of the jobs before it as if they had been
//! committed alone), applies each job's changes, commits once, and only then tells each
//! caller. A failure to apply or commit fails every job of the batch, none of which is
//! recorded, so their callers deny (fail closed).

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use redb::Database;

use super::store::Tables;
use super::{Change, OwnershipView, StoreError};

/// The most jobs one transaction takes, so one batch's wait stays bounded.
const MAX_BATCH: usize = 256;

/// A learn whose changes were not recorded: what it had learned, if it ran, and why.
#[derive(Debug)]
pub struct Unrecorded<T> {
    /// The learn's own result, when it ran before the batch failed.
    pub learned: Option<T>,
    /// Why nothing was recorded.
    pub error: StoreError,
}

/// Computes one learn's changes against the record as the batch has it so far.
type Compute = Box<dyn FnOnce(&dyn OwnershipView) -> Vec<Change> + Send>;

/// One learn queued for the committer, with where to report its fate.
struct Job {
    compute: Compute,
    done: Sender<Result<(), StoreError>>,
}

/// The committer thread and the queue that feeds it; stopped (and joined) on drop, so the
/// database is closed when the [`super::store::Store`] holding it is.
#[derive(Debug)]
pub(super) struct Committer {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    /// Starts the committer thread for `db`.
    pub(super) fn start(db: Arc<Database>) -> Result<Committer, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("ownership-commit".into())
            .spawn(move || commit_batches(&db, &queue))
            .map_err(|e| StoreError::Database(format!("cannot start the committer: {e}")))?;
        Ok(Committer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues `learn` and waits until its changes are committed (or have failed).
    pub(super) fn learn<T: Send + 'static>(
        &self,
        learn: impl FnOnce(&dyn OwnershipView) -> (T, Vec<Change>) + Send + 'static,
    ) -> Result<T, Unrecorded<T>> {
        let (learned_tx, learned_rx) = mpsc::channel::<T>();
        let (done, outcome) = mpsc::channel();
        let compute: Compute = Box::new(move |view| {
            let (learned, changes) = learn(view);
            let _ = learned_tx.send(learned);
            changes
        });
        let stopped = || StoreError::Database("the ownership committer has stopped".into());
        let queued = self
            .jobs
            .as_ref()
            .ok_or_else(stopped)
            .and_then(|jobs| jobs.send(Job { compute, done }).map_err(|_| stopped()));
        let result = queued.and_then(|()| outcome.recv().unwrap_or_else(|_| Err(stopped())));
        let learned = learned_rx.try_recv().ok();
        match (result, learned) {
            (Ok(()), Some(learned)) => Ok(learned),
            (Ok(()), None) => Err(Unrecorded {
                learned: None,
                error: stopped(),
            }),
            (Err(error), learned) => Err(Unrecorded { learned, error }),
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The committer thread: one batch per turn, until every sender is gone.
fn commit_batches(db: &Database, queue: &Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let (computes, dones): (Vec<Compute>, Vec<_>) = std::iter::once(first)
            .chain(queue.try_iter().take(MAX_BATCH - 1))
            .map(|job| (job.compute, job.done))
            .unzip();
        let outcome = commit_batch(db, computes);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, learns = dones.len(), "ownership batch not recorded");
        }
        for done in dones {
            let copy = match &outcome {
                Ok(()) => Ok(()),
                Err(StoreError::Database(m)) => Err(StoreError::Database(m.clone())),
                Err(StoreError::Corrupt(key)) => Err(StoreError::Corrupt(key.clone())),
            };
            // A caller that is gone has nobody left to answer.
            let _ = done.send(copy);
        }
    }
}

/// Runs `computes` in order in one write transaction, applying each one's changes before
/// the next runs, and commits.
fn commit_batch(db: &Database, computes: Vec<Compute>) -> Result<(), StoreError> {
    let db_error = |e: &dyn std::fmt::Display| StoreError::Database(e.to_string());
    let mut txn = db.begin_write().map_err(|e| db_error(&e))?;
    {
        let mut tables = Tables::open(&mut txn)?;
        for compute in computes {
            let changes = compute(&tables);
            for change in &changes {
                tables.apply(change)?;
            }
        }
    }
    txn.commit().map_err(|e| db_error(&e))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::super::store::Store;
    use super::super::{Change, Lookup, ObjectKind, Owned, Owner, OwnershipView};

    fn create(id: String, owner: &str, name: String) -> Change {
        Change::Own {
            kind: ObjectKind::Container,
            owned: Owned {
                id,
                owner: Owner(owner.into()),
                name,
                learned_at: 1,
            },
        }
    }

    /// Runs `per_thread` learns on each of `threads` threads at once.
    fn concurrently(threads: usize, per_thread: usize, learn_one: impl Fn(usize, usize) + Sync) {
        std::thread::scope(|scope| {
            for t in 0..threads {
                let learn_one = &learn_one;
                scope.spawn(move || (0..per_thread).for_each(|i| learn_one(t, i)));
            }
        });
    }

    #[test]
    fn concurrent_creates_for_several_users_are_all_recorded_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let users = ["alice", "bob", "carol", "dave"];
        concurrently(8, 25, |t, i| {
            let user = users[(t + i) % users.len()];
            let change = create(format!("{t:02}{i:02}"), user, format!("c-{t}-{i}"));
            store.learn(move |_| ((), vec![change])).unwrap();
        });
        for user in users {
            assert_eq!(store.containers_owned(&Owner(user.into())).unwrap(), 50);
        }
        assert_eq!(store.all(ObjectKind::Container).unwrap().len(), 200);
        assert!(matches!(
            store.lookup(ObjectKind::Container, "c-7-24").unwrap(),
            Lookup::Found(owned) if owned.id == "0724"
        ));
    }

    #[test]
    fn each_learn_sees_every_learn_before_it_as_if_serialised() {
        // Each learn names its container after the count it reads: learns that missed one
        // another would read the same count, pick the same name and evict each other.
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let alice = Owner("alice".into());
        concurrently(8, 20, |t, i| {
            let alice = alice.clone();
            let id = format!("{t:02}{i:02}");
            store
                .learn(move |view: &dyn OwnershipView| {
                    let seen = view.containers_owned(&alice).unwrap();
                    ((), vec![create(id, "alice", format!("n{seen}"))])
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
        assert_eq!(store.containers_owned(&alice).unwrap(), 160);
    }

    #[test]
    fn a_learn_returns_what_it_computed_once_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let change = create("abc".into(), "bob", "web".into());
        let answer = store.learn(move |_| (42, vec![change])).unwrap();
        assert_eq!(answer, 42);
        drop(store);
        let reopened = Store::open(dir.path()).unwrap();
        assert_eq!(reopened.containers_owned(&Owner("bob".into())).unwrap(), 1);
    }
}
