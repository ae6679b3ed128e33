//! Group commit for the ownership record: concurrent learns share one redb write
//! transaction and one fsync instead of paying one each.
//!
//! A learn is queued as a job. The caller that finds nobody committing becomes the leader:
//! it takes every job waiting, opens one write transaction, runs the jobs one after another
//! (each reads the transaction, so it sees the changes of the jobs before it as if they had
//! been committed alone), applies each job's changes, commits once, and only then tells each
//! caller. Jobs queued meanwhile wait for the next batch; once the leader's own job is
//! committed it hands the lead to the first of them. An uncontended learn thus commits on
//! its own thread, with no hand-off. A failure to apply or commit fails every job of the
//! batch, none of which is recorded, so their callers deny (fail closed).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

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

/// What a waiting caller is told.
enum Turn {
    /// Its job's batch was committed, or failed.
    Done(Result<(), StoreError>),
    /// It leads now: its job has not run yet and nobody else is committing.
    Lead,
}

/// One learn queued for the leader, with where to report its fate.
struct Job {
    compute: Compute,
    turn: Sender<Turn>,
}

/// The jobs waiting for a batch, and whether some caller is committing.
#[derive(Default)]
struct Queue {
    waiting: Vec<Job>,
    leading: bool,
}

/// The group committer of one database.
pub(super) struct Committer {
    db: Arc<Database>,
    queue: Mutex<Queue>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

fn stopped() -> StoreError {
    StoreError::Database("the ownership committer was abandoned".into())
}

fn copy(outcome: &Result<(), StoreError>) -> Result<(), StoreError> {
    match outcome {
        Ok(()) => Ok(()),
        Err(StoreError::Database(m)) => Err(StoreError::Database(m.clone())),
        Err(StoreError::Corrupt(key)) => Err(StoreError::Corrupt(key.clone())),
    }
}

impl Committer {
    /// A committer for `db`.
    pub(super) fn new(db: Arc<Database>) -> Committer {
        Committer {
            db,
            queue: Mutex::default(),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `learn` and waits until its changes are committed (or have failed), leading
    /// the batches meanwhile if nobody else is.
    pub(super) fn learn<T: Send + 'static>(
        &self,
        learn: impl FnOnce(&dyn OwnershipView) -> (T, Vec<Change>) + Send + 'static,
    ) -> Result<T, Unrecorded<T>> {
        let (learned_tx, learned_rx) = mpsc::channel::<T>();
        let (turn, my_turn) = mpsc::channel();
        let compute: Compute = Box::new(move |view| {
            let (learned, changes) = learn(view);
            let _ = learned_tx.send(learned);
            changes
        });
        let lead = {
            let mut queue = self.queue();
            queue.waiting.push(Job { compute, turn });
            !std::mem::replace(&mut queue.leading, true)
        };
        let result = if lead {
            self.lead(&my_turn)
        } else {
            match my_turn.recv() {
                Ok(Turn::Done(result)) => result,
                Ok(Turn::Lead) => self.lead(&my_turn),
                Err(_) => Err(stopped()),
            }
        };
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

    /// Commits batches until the one holding this caller's job, then hands the lead on.
    fn lead(&self, my_turn: &Receiver<Turn>) -> Result<(), StoreError> {
        loop {
            let batch: Vec<Job> = {
                let mut queue = self.queue();
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            let (computes, turns): (Vec<Compute>, Vec<_>) =
                batch.into_iter().map(|job| (job.compute, job.turn)).unzip();
            let outcome = commit_batch(&self.db, computes);
            if let Err(e) = &outcome {
                tracing::error!(error = %e, learns = turns.len(), "ownership batch not recorded");
            }
            for turn in turns {
                // A caller that is gone has nobody left to answer.
                let _ = turn.send(Turn::Done(copy(&outcome)));
            }
            if let Ok(Turn::Done(mine)) = my_turn.try_recv() {
                self.hand_on();
                return mine;
            }
        }
    }

    /// Gives the lead to the first waiting caller, or gives it up if none waits.
    fn hand_on(&self) {
        let mut queue = self.queue();
        while !queue.waiting.is_empty() {
            if queue.waiting[0].turn.send(Turn::Lead).is_ok() {
                return;
            }
            queue.waiting.remove(0);
        }
        queue.leading = false;
    }
}

/// Runs `computes` in order in one write transaction, applying each one's changes before
/// the next runs, and commits. A learn that panics fails the batch.
fn commit_batch(db: &Database, computes: Vec<Compute>) -> Result<(), StoreError> {
    let db_error = |e: &dyn std::fmt::Display| StoreError::Database(e.to_string());
    let mut txn = db.begin_write().map_err(|e| db_error(&e))?;
    {
        let mut tables = Tables::open(&mut txn)?;
        for compute in computes {
            let changes = catch_unwind(AssertUnwindSafe(|| compute(&tables)))
                .map_err(|_| StoreError::Database("a learn panicked".into()))?;
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

    #[test]
    fn a_learn_that_panics_fails_closed_and_later_learns_still_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let failed = store.learn(|_| -> ((), Vec<Change>) { panic!("a bug in a learn") });
        assert!(failed.is_err());
        let change = create("abc".into(), "bob", "web".into());
        store.learn(move |_| ((), vec![change])).unwrap();
        assert_eq!(store.containers_owned(&Owner("bob".into())).unwrap(), 1);
    }
}
