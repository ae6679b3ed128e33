//! Who owns which container, exec session, volume and network: learned from the daemon's
//! answers, enforced on every later call that names one of them.
//!
//! An authorization plugin cannot change requests or filter responses, so ownership is
//! learned in the response phase (`learn`: a 2xx create records its caller as owner, a 2xx
//! removal forgets) and enforced in the request phase (`enforce`). Both are pure: they read
//! an [`OwnershipView`] handed to them and return decisions or [`Change`]s; the plugin wrapper
//! records the changes in [`store::Store`] (in memory, journaled to disk) before the daemon
//! gets its answer.

pub mod config;
pub mod enforce;
pub mod journal;
pub mod learn;
pub mod maintenance;
mod record;
pub mod rules;
pub mod store;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use config::{Enforce, OwnershipSettings};

/// The label that marks an object's owner in list filters and create bodies.
pub const OWNER_LABEL: &str = "authobot.owner";

/// The kinds of daemon objects that have owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A container (`docker create`/`run`).
    Container,
    /// An exec session (`docker exec`), owned with its container.
    Exec,
    /// A volume.
    Volume,
    /// A network.
    Network,
}

impl ObjectKind {
    /// How messages name the kind.
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::Container => "container",
            ObjectKind::Exec => "exec session",
            ObjectKind::Volume => "volume",
            ObjectKind::Network => "network",
        }
    }
}

/// Who owns an object: a TLS user name, or every anonymous caller together (the empty name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Owner(pub String);

impl Owner {
    /// The owner for anonymous callers (the unix socket carries no identity).
    pub fn anonymous() -> Owner {
        Owner(String::new())
    }

    /// Whether this is the anonymous owner.
    pub fn is_anonymous(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_anonymous() {
            f.write_str("the anonymous callers (unix socket)")
        } else {
            write!(f, "user {:?}", self.0)
        }
    }
}

/// One owned object as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owned {
    /// The daemon's full id (a volume's name is its id).
    pub id: String,
    /// Its owner.
    pub owner: Owner,
    /// A container's or network's name; for an exec session, its container's id.
    pub name: String,
    /// When the record was learned (seconds since the Unix epoch).
    pub learned_at: u64,
}

/// What a reference (id, id prefix or name) resolves to, resolved the way dockerd does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "resolved", rename_all = "lowercase")]
pub enum Lookup {
    /// No owned object answers to the reference.
    Unknown,
    /// More than one owned object answers to it (dockerd refuses an ambiguous reference
    /// too, but might resolve it to an object this plugin does not know).
    Ambiguous {
        /// How many matched.
        matches: usize,
    },
    /// Exactly this object.
    Found(Owned),
}

/// Why the ownership record could not be read or written. Every variant means "deny".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The journal could not be read or written.
    #[error("ownership record: {0}")]
    Journal(String),
    /// A line of the journal (or of its durable mark) fails its checks: the file was
    /// damaged, and guessing what it held could hand an object to the wrong user.
    #[error("ownership record: {}, line {line}, is corrupt ({reason}); {}", path.display(), recovery(path, line.saturating_sub(1)))]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line's number, from 1.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Lines the journal held once are missing: it was cut short, emptied or removed.
    #[error("ownership record: {} is incomplete: {reason}; {}", path.display(), recovery(path, *keep))]
    Incomplete {
        /// The journal.
        path: PathBuf,
        /// What is missing.
        reason: String,
        /// How many lines a repair could keep.
        keep: u64,
    },
    /// The journal's path no longer names the file the plugin appends to: what it learns
    /// would be lost at the next start, so it learns nothing.
    #[error("ownership record: {} {reason}; changes are not recorded until {remedy}", path.display())]
    Detached {
        /// The journal.
        path: PathBuf,
        /// What happened to it.
        reason: &'static str,
        /// What brings recording back.
        remedy: &'static str,
    },
    /// Another process (a second plugin) holds the state directory.
    #[error("ownership record: {} is in use by another authobot (only one plugin may serve a state directory)", .0.display())]
    Locked(PathBuf),
}

impl StoreError {
    pub(crate) fn corrupt(path: &std::path::Path, line: u64, reason: String) -> StoreError {
        StoreError::Corrupt {
            path: path.to_owned(),
            line,
            reason,
        }
    }
}

/// What an operator can do about a damaged state directory, in an error message.
fn recovery(path: &std::path::Path, keep: u64) -> String {
    let dir = path.parent().unwrap_or(std::path::Path::new(".")).display();
    format!(
        "nothing was started: `authobot state check --state-dir {dir}` lists every problem; \
         restore a backup, or keep the first {keep} lines with `authobot state repair \
         --state-dir {dir} --drop-after {keep}` (it backs the journal up first)"
    )
}

/// The read-only view of ownership that decisions are made against.
pub trait OwnershipView {
    /// Resolves `reference` among objects of `kind` the way dockerd resolves it.
    fn lookup(&self, kind: ObjectKind, reference: &str) -> Result<Lookup, StoreError>;

    /// Every network answering to `name` exactly (network names need not be unique).
    fn networks_named(&self, name: &str) -> Result<Vec<Owned>, StoreError>;

    /// How many containers `owner` owns.
    fn containers_owned(&self, owner: &Owner) -> Result<u64, StoreError>;
}

/// The view with nothing recorded: for deciding a single message with no store at hand.
#[derive(Debug, Clone, Copy, Default)]
pub struct NothingOwned;

impl OwnershipView for NothingOwned {
    fn lookup(&self, _: ObjectKind, _: &str) -> Result<Lookup, StoreError> {
        Ok(Lookup::Unknown)
    }

    fn networks_named(&self, _: &str) -> Result<Vec<Owned>, StoreError> {
        Ok(Vec::new())
    }

    fn containers_owned(&self, _: &Owner) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// A change to the ownership record, learned from a successful daemon answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum Change {
    /// The object now exists and belongs to `owned.owner`.
    Own {
        /// Its kind.
        kind: ObjectKind,
        /// The record.
        owned: Owned,
    },
    /// The object was removed.
    Forget {
        /// Its kind.
        kind: ObjectKind,
        /// Its full id.
        id: String,
    },
    /// The daemon listed every container it has: recorded containers missing from the
    /// list are gone (`--rm` containers are removed without an API call). Records learned at
    /// or after `learned_before` are kept, as the list may predate them.
    Reconcile {
        /// The ids the daemon listed.
        present: BTreeSet<String>,
        /// Only records learned before this time (Unix seconds) may be forgotten.
        learned_before: u64,
    },
    /// A container got a new name.
    Rename {
        /// The container's full id.
        id: String,
        /// Its new name, without the leading `/`.
        name: String,
    },
}

/// dockerd keeps container names with one leading `/` and accepts them with or without it.
pub fn container_name(reference: &str) -> &str {
    reference.strip_prefix('/').unwrap_or(reference)
}
