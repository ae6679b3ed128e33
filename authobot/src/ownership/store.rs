//! The ownership record on disk: one redb database (`ownership.redb` in the state directory).
//!
//! redb is ACID with copy-on-write pages and an fsync on every commit, so a plugin killed at
//! any moment reopens at its last committed transaction; the plugin commits each learned
//! change before it answers the daemon's `AuthZRes`. Nothing is cached in memory beyond
//! redb's own small page cache: lookups read the ordered tables, and an id prefix is a range
//! scan over the keys that start with it.

use std::collections::BTreeSet;
use std::fs;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableTable, TableDefinition};

use super::{Change, Lookup, ObjectKind, Owned, Owner, OwnershipView, StoreError};

/// Objects by kind tag and full id (`c/<id>`): the owner and name, encoded by [`encode`].
const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
/// Names of containers and networks (`c/<name>\0<id>`), for lookups by name.
const NAMES: TableDefinition<&str, ()> = TableDefinition::new("names");
/// Containers per owner, for quotas.
const COUNTS: TableDefinition<&str, u64> = TableDefinition::new("container_counts");
/// Exec sessions per container (`<container id>\0<exec id>`), forgotten with it.
const EXECS_OF: TableDefinition<&str, ()> = TableDefinition::new("execs_of_container");

/// The database file's name inside the state directory.
pub const DATABASE_FILE: &str = "ownership.redb";

/// redb's page cache: small, so 100,000 containers stay far under the plugin's memory budget.
const CACHE_BYTES: usize = 4 << 20;

/// The ownership record, open for reading and writing.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

fn db_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

fn object_key(kind: ObjectKind, id: &str) -> String {
    format!("{}/{id}", kind.tag())
}

fn name_key(kind: ObjectKind, name: &str, id: &str) -> String {
    format!("{}/{name}\0{id}", kind.tag())
}

/// Learned-at (u64, little endian), owner length (u32, little endian), owner, name.
fn encode(owned: &Owned) -> Vec<u8> {
    let owner = owned.owner.0.as_bytes();
    let length = u32::try_from(owner.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(12 + owner.len() + owned.name.len());
    out.extend_from_slice(&owned.learned_at.to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(owner);
    out.extend_from_slice(owned.name.as_bytes());
    out
}

fn decode(key: &str, value: &[u8]) -> Result<Owned, StoreError> {
    let corrupt = || StoreError::Corrupt(key.to_owned());
    let (learned_at, rest) = value.split_first_chunk::<8>().ok_or_else(corrupt)?;
    let (length, rest) = rest.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let length = usize::try_from(u32::from_le_bytes(*length)).map_err(|_| corrupt())?;
    if rest.len() < length {
        return Err(corrupt());
    }
    let (owner, name) = rest.split_at(length);
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).map_err(|_| corrupt());
    let id = key.get(2..).ok_or_else(corrupt)?;
    Ok(Owned {
        id: id.to_owned(),
        owner: Owner(text(owner)?),
        name: text(name)?,
        learned_at: u64::from_le_bytes(*learned_at),
    })
}

impl Store {
    /// Opens (or creates) the record in `state_dir`, creating the directory if needed.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(state_dir).map_err(|e| {
            StoreError::Database(format!("cannot create {}: {e}", state_dir.display()))
        })?;
        Store::open_file(&state_dir.join(DATABASE_FILE))
    }

    fn open_file(path: &Path) -> Result<Store, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(db_error)?;
        txn.open_table(OBJECTS).map_err(db_error)?;
        txn.open_table(NAMES).map_err(db_error)?;
        txn.open_table(COUNTS).map_err(db_error)?;
        txn.open_table(EXECS_OF).map_err(db_error)?;
        txn.commit().map_err(db_error)?;
        Ok(Store {
            db,
            path: path.to_owned(),
        })
    }

    /// Opens the record in `state_dir` for a one-off read (`authobot explain`) without
    /// blocking a plugin that holds it: if the database is in use, a copy of the file is
    /// opened instead (redb falls back to the last commit that is whole in the copy).
    pub fn open_snapshot(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join(DATABASE_FILE);
        if !path.exists() {
            return Err(StoreError::Database(format!(
                "no ownership record at {}",
                path.display()
            )));
        }
        match Database::builder().set_cache_size(CACHE_BYTES).open(&path) {
            Ok(db) => Ok(Store { db, path }),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                let copy = std::env::temp_dir().join(format!(
                    "authobot-snapshot-{}-{DATABASE_FILE}",
                    std::process::id()
                ));
                fs::copy(&path, &copy).map_err(|e| {
                    StoreError::Database(format!("cannot copy {}: {e}", path.display()))
                })?;
                let opened = Store::open_file(&copy);
                // The open database keeps its file handle; the name is not needed any more.
                let _ = fs::remove_file(&copy);
                opened
            }
            Err(e) => Err(StoreError::Database(format!("{}: {e}", path.display()))),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `changes` in one transaction, durable (fsynced) when this returns.
    pub fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write().map_err(db_error)?;
        txn.set_durability(Durability::Immediate);
        {
            let mut tables = Tables {
                objects: txn.open_table(OBJECTS).map_err(db_error)?,
                names: txn.open_table(NAMES).map_err(db_error)?,
                counts: txn.open_table(COUNTS).map_err(db_error)?,
                execs_of: txn.open_table(EXECS_OF).map_err(db_error)?,
            };
            for change in changes {
                tables.apply(change)?;
            }
        }
        txn.commit().map_err(db_error)
    }

    /// Every object of `kind`, in id order (for tests and inspection tools).
    pub fn all(&self, kind: ObjectKind) -> Result<Vec<Owned>, StoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let objects = txn.open_table(OBJECTS).map_err(db_error)?;
        let prefix = object_key(kind, "");
        let mut out = Vec::new();
        for entry in objects.range(prefix.as_str()..).map_err(db_error)? {
            let (key, value) = entry.map_err(db_error)?;
            if !key.value().starts_with(&prefix) {
                break;
            }
            out.push(decode(key.value(), value.value())?);
        }
        Ok(out)
    }
}

/// The tables of one write transaction.
struct Tables<'t> {
    objects: redb::Table<'t, &'static str, &'static [u8]>,
    names: redb::Table<'t, &'static str, ()>,
    counts: redb::Table<'t, &'static str, u64>,
    execs_of: redb::Table<'t, &'static str, ()>,
}

impl Tables<'_> {
    fn get(&self, kind: ObjectKind, id: &str) -> Result<Option<Owned>, StoreError> {
        let key = object_key(kind, id);
        let found = self.objects.get(key.as_str()).map_err(db_error)?;
        found.map(|v| decode(&key, v.value())).transpose()
    }

    fn count(&mut self, owner: &Owner, delta: i64) -> Result<(), StoreError> {
        let now = self
            .counts
            .get(owner.0.as_str())
            .map_err(db_error)?
            .map_or(0, |v| v.value());
        let next = now.saturating_add_signed(delta);
        if next == 0 {
            self.counts.remove(owner.0.as_str()).map_err(db_error)?;
        } else {
            self.counts
                .insert(owner.0.as_str(), next)
                .map_err(db_error)?;
        }
        Ok(())
    }

    fn has_names(kind: ObjectKind) -> bool {
        matches!(kind, ObjectKind::Container | ObjectKind::Network)
    }

    fn apply(&mut self, change: &Change) -> Result<(), StoreError> {
        match change {
            Change::Own { kind, owned } => {
                self.forget(*kind, &owned.id)?;
                let key = object_key(*kind, &owned.id);
                self.objects
                    .insert(key.as_str(), encode(owned).as_slice())
                    .map_err(db_error)?;
                match kind {
                    ObjectKind::Container => self.count(&owned.owner, 1)?,
                    ObjectKind::Exec => {
                        let link = format!("{}\0{}", owned.name, owned.id);
                        self.execs_of.insert(link.as_str(), ()).map_err(db_error)?;
                    }
                    _ => {}
                }
                if *kind == ObjectKind::Container {
                    self.evict_name_holders(&owned.name, &owned.id)?;
                }
                if Self::has_names(*kind) && !owned.name.is_empty() {
                    let key = name_key(*kind, &owned.name, &owned.id);
                    self.names.insert(key.as_str(), ()).map_err(db_error)?;
                }
            }
            Change::Forget { kind, id } => self.forget(*kind, id)?,
            Change::Rename { id, name } => {
                if let Some(mut owned) = self.get(ObjectKind::Container, id)? {
                    self.evict_name_holders(name, id)?;
                    let old = name_key(ObjectKind::Container, &owned.name, id);
                    self.names.remove(old.as_str()).map_err(db_error)?;
                    let new = name_key(ObjectKind::Container, name, id);
                    self.names.insert(new.as_str(), ()).map_err(db_error)?;
                    owned.name.clone_from(name);
                    let key = object_key(ObjectKind::Container, id);
                    self.objects
                        .insert(key.as_str(), encode(&owned).as_slice())
                        .map_err(db_error)?;
                }
            }
            Change::Reconcile {
                present,
                learned_before,
            } => self.reconcile(present, *learned_before)?,
        }
        Ok(())
    }

    /// dockerd's container names are unique: when the daemon gives container `id` a name,
    /// any other record holding that name is of a container the daemon removed unseen.
    fn evict_name_holders(&mut self, name: &str, id: &str) -> Result<(), StoreError> {
        if name.is_empty() {
            return Ok(());
        }
        for holder in ids_named(&self.names, ObjectKind::Container, name)? {
            if holder != id {
                self.forget(ObjectKind::Container, &holder)?;
            }
        }
        Ok(())
    }

    /// Forgets recorded containers learned before `learned_before` and absent from
    /// `present`, scanning in chunks so memory stays flat however large the record is.
    fn reconcile(
        &mut self,
        present: &BTreeSet<String>,
        learned_before: u64,
    ) -> Result<(), StoreError> {
        const CHUNK: usize = 512;
        let prefix = object_key(ObjectKind::Container, "");
        let mut from = Bound::Included(prefix.clone());
        loop {
            let mut gone = Vec::new();
            let mut last = None;
            let mut scanned = 0;
            let range = (from.as_ref().map(String::as_str), Bound::Unbounded);
            for entry in self.objects.range::<&str>(range).map_err(db_error)? {
                let (key, value) = entry.map_err(db_error)?;
                let key = key.value();
                if !key.starts_with(&prefix) || scanned == CHUNK {
                    break;
                }
                scanned += 1;
                let owned = decode(key, value.value())?;
                if owned.learned_at < learned_before && !present.contains(&owned.id) {
                    gone.push(owned.id);
                }
                last = Some(key.to_owned());
            }
            for id in gone {
                self.forget(ObjectKind::Container, &id)?;
            }
            match last {
                Some(key) if scanned == CHUNK => from = Bound::Excluded(key),
                _ => return Ok(()),
            }
        }
    }

    fn forget(&mut self, kind: ObjectKind, id: &str) -> Result<(), StoreError> {
        let Some(owned) = self.get(kind, id)? else {
            return Ok(());
        };
        self.objects
            .remove(object_key(kind, id).as_str())
            .map_err(db_error)?;
        if Self::has_names(kind) && !owned.name.is_empty() {
            let key = name_key(kind, &owned.name, id);
            self.names.remove(key.as_str()).map_err(db_error)?;
        }
        match kind {
            ObjectKind::Container => {
                self.count(&owned.owner, -1)?;
                let prefix = format!("{id}\0");
                let mut execs = Vec::new();
                for entry in self.execs_of.range(prefix.as_str()..).map_err(db_error)? {
                    let (key, _) = entry.map_err(db_error)?;
                    match key.value().strip_prefix(&prefix) {
                        Some(exec) => execs.push((key.value().to_owned(), exec.to_owned())),
                        None => break,
                    }
                }
                for (link, exec) in execs {
                    self.execs_of.remove(link.as_str()).map_err(db_error)?;
                    self.objects
                        .remove(object_key(ObjectKind::Exec, &exec).as_str())
                        .map_err(db_error)?;
                }
            }
            ObjectKind::Exec => {
                let link = format!("{}\0{id}", owned.name);
                self.execs_of.remove(link.as_str()).map_err(db_error)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Up to `limit` objects whose key starts with `prefix`.
fn scan<V: redb::ReadableTable<&'static str, &'static [u8]>>(
    objects: &V,
    prefix: &str,
    limit: usize,
) -> Result<Vec<Owned>, StoreError> {
    let mut out = Vec::new();
    for entry in objects.range(prefix..).map_err(db_error)? {
        let (key, value) = entry.map_err(db_error)?;
        if !key.value().starts_with(prefix) || out.len() == limit {
            break;
        }
        out.push(decode(key.value(), value.value())?);
    }
    Ok(out)
}

/// The ids recorded under `kind` and exactly `name`.
fn ids_named<N: redb::ReadableTable<&'static str, ()>>(
    names: &N,
    kind: ObjectKind,
    name: &str,
) -> Result<Vec<String>, StoreError> {
    let prefix = name_key(kind, name, "");
    let mut out = Vec::new();
    for entry in names.range(prefix.as_str()..).map_err(db_error)? {
        let (key, _) = entry.map_err(db_error)?;
        match key.value().strip_prefix(&prefix) {
            Some(id) => out.push(id.to_owned()),
            None => break,
        }
    }
    Ok(out)
}

fn one_of(mut found: Vec<Owned>) -> Lookup {
    match found.len() {
        0 => Lookup::Unknown,
        1 => Lookup::Found(found.remove(0)),
        matches => Lookup::Ambiguous { matches },
    }
}

impl OwnershipView for Store {
    fn lookup(&self, kind: ObjectKind, reference: &str) -> Result<Lookup, StoreError> {
        if reference.is_empty() {
            return Ok(Lookup::Unknown);
        }
        let txn = self.db.begin_read().map_err(db_error)?;
        let objects = txn.open_table(OBJECTS).map_err(db_error)?;
        let names = txn.open_table(NAMES).map_err(db_error)?;
        let get = |id: &str| -> Result<Option<Owned>, StoreError> {
            let key = object_key(kind, id);
            let found = objects.get(key.as_str()).map_err(db_error)?;
            found.map(|v| decode(&key, v.value())).transpose()
        };
        // dockerd's order: full id, then name, then unique id prefix (containers and
        // networks); exec sessions and volumes answer to their full id (name) only.
        if let Some(owned) = get(reference)? {
            return Ok(Lookup::Found(owned));
        }
        let name = match kind {
            ObjectKind::Container => super::container_name(reference),
            ObjectKind::Network => reference,
            ObjectKind::Exec | ObjectKind::Volume => return Ok(Lookup::Unknown),
        };
        let mut by_name = Vec::new();
        for id in ids_named(&names, kind, name)? {
            by_name.extend(get(&id)?);
        }
        if !by_name.is_empty() {
            return Ok(one_of(by_name));
        }
        Ok(one_of(scan(&objects, &object_key(kind, reference), 2)?))
    }

    fn networks_named(&self, name: &str) -> Result<Vec<Owned>, StoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let objects = txn.open_table(OBJECTS).map_err(db_error)?;
        let names = txn.open_table(NAMES).map_err(db_error)?;
        let mut out = Vec::new();
        for id in ids_named(&names, ObjectKind::Network, name)? {
            let key = object_key(ObjectKind::Network, &id);
            if let Some(v) = objects.get(key.as_str()).map_err(db_error)? {
                out.push(decode(&key, v.value())?);
            }
        }
        Ok(out)
    }

    fn containers_owned(&self, owner: &Owner) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let counts = txn.open_table(COUNTS).map_err(db_error)?;
        let count = counts.get(owner.0.as_str()).map_err(db_error)?;
        Ok(count.map_or(0, |v| v.value()))
    }
}

#[cfg(test)]
mod tests {
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

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn container_resolves_by_id_name_slash_name_and_unique_prefix() {
        let (_dir, store) = temp_store();
        store
            .apply(&[own(ObjectKind::Container, "abc123", "alice", "web")])
            .unwrap();
        for reference in ["abc123", "web", "/web", "ab"] {
            let Lookup::Found(owned) = store.lookup(ObjectKind::Container, reference).unwrap()
            else {
                panic!("{reference} not found");
            };
            assert_eq!(owned.owner, Owner("alice".into()));
        }
    }

    #[test]
    fn shared_id_prefix_is_ambiguous() {
        let (_dir, store) = temp_store();
        store
            .apply(&[
                own(ObjectKind::Container, "abc1", "alice", "a"),
                own(ObjectKind::Container, "abc2", "bob", "b"),
            ])
            .unwrap();
        assert_eq!(
            store.lookup(ObjectKind::Container, "abc").unwrap(),
            Lookup::Ambiguous { matches: 2 }
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
        store
            .apply(&[Change::Forget {
                kind: ObjectKind::Container,
                id: "c1".into(),
            }])
            .unwrap();
        assert_eq!(store.containers_owned(&Owner("alice".into())).unwrap(), 0);
        assert_eq!(
            store.lookup(ObjectKind::Container, "web").unwrap(),
            Lookup::Unknown
        );
        assert_eq!(
            store.lookup(ObjectKind::Exec, "e1").unwrap(),
            Lookup::Unknown
        );
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
        assert_eq!(
            store.lookup(ObjectKind::Container, "old").unwrap(),
            Lookup::Unknown
        );
        assert!(matches!(
            store.lookup(ObjectKind::Container, "/new").unwrap(),
            Lookup::Found(_)
        ));
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
        assert_eq!(
            store.lookup(ObjectKind::Exec, "e1").unwrap(),
            Lookup::Unknown
        );
        assert_eq!(
            store.lookup(ObjectKind::Volume, "dat").unwrap(),
            Lookup::Unknown
        );
        assert!(matches!(
            store.lookup(ObjectKind::Volume, "data").unwrap(),
            Lookup::Found(_)
        ));
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .apply(&[own(ObjectKind::Network, "n1", "bob", "backend")])
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.networks_named("backend").unwrap().len(), 1);
    }
}
