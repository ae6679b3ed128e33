//! The ownership record in memory, the source of truth for every lookup: owned objects by
//! id (ordered, for dockerd's id-prefix resolution), by name, containers per owner (quotas)
//! and exec sessions per container.
//!
//! Kept compact because one plugin may hold 100,000 containers in a few MiB: a 64-hex id is
//! held as its 32 bytes, owners are interned, a name is one allocation and the name index
//! holds a hash of it rather than a copy.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use super::{Change, Lookup, ObjectKind, Owned, Owner, OwnershipView, StoreError};

/// An object's id as the daemon spells it: 64 lowercase hex digits held as 32 bytes, any
/// other id (volume names, short test ids) as text. Ordered as its text, so that the ids
/// starting with a prefix are one range whatever their representation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Id {
    /// Exactly 64 lowercase hex digits; never held as `Text`, so equality is textual.
    Hex([u8; 32]),
    /// Any other id.
    Text(Box<str>),
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

fn hex_text(bytes: &[u8; 32]) -> impl Iterator<Item = u8> + '_ {
    bytes.iter().flat_map(|b| {
        [
            HEX_DIGITS[usize::from(b >> 4)],
            HEX_DIGITS[usize::from(b & 15)],
        ]
    })
}

impl Id {
    pub(super) fn new(text: &str) -> Id {
        let digits = text.as_bytes();
        if digits.len() == 64 {
            let mut bytes = [0u8; 32];
            let parsed = bytes
                .iter_mut()
                .zip(digits.chunks_exact(2))
                .all(|(b, pair)| match (hex_value(pair[0]), hex_value(pair[1])) {
                    (Some(high), Some(low)) => {
                        *b = high << 4 | low;
                        true
                    }
                    _ => false,
                });
            if parsed {
                return Id::Hex(bytes);
            }
        }
        Id::Text(text.into())
    }

    /// The id every other id sorts after (the empty text).
    fn lowest() -> Id {
        Id::Text(Box::default())
    }

    fn starts_with(&self, prefix: &str) -> bool {
        match self {
            Id::Hex(bytes) => {
                prefix.len() <= 64 && hex_text(bytes).zip(prefix.bytes()).all(|(a, b)| a == b)
            }
            Id::Text(text) => text.starts_with(prefix),
        }
    }
}

impl Ord for Id {
    fn cmp(&self, other: &Id) -> Ordering {
        match (self, other) {
            (Id::Hex(a), Id::Hex(b)) => a.cmp(b),
            (Id::Text(a), Id::Text(b)) => a.cmp(b),
            (Id::Hex(a), Id::Text(b)) => hex_text(a).cmp(b.bytes()),
            (Id::Text(a), Id::Hex(b)) => a.bytes().cmp(hex_text(b)),
        }
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Hex(bytes) => hex_text(bytes).try_for_each(|d| fmt::Write::write_char(f, d.into())),
            Id::Text(text) => f.write_str(text),
        }
    }
}

/// What is recorded about one object besides its id.
#[derive(Debug)]
struct Entry {
    /// A container's or network's name; an exec session's container id; empty otherwise.
    name: Box<str>,
    learned_at: u64,
    /// Index into [`Record::owners`].
    owner: u32,
}

/// The objects of one kind.
#[derive(Debug, Default)]
struct Objects {
    by_id: BTreeMap<Id, Entry>,
    /// (hash of the name, id) of named containers and networks; a hash match is checked
    /// against the entry's name.
    by_name: BTreeSet<(u64, Id)>,
}

/// One primitive change, as the journal records it and as it is applied: what a
/// [`Change`] comes to once resolved against the record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub(super) enum Op {
    /// `id` now belongs to `owner` (any earlier record of `id` is replaced; a container
    /// taking a recorded name evicts the record holding it).
    Own {
        kind: ObjectKind,
        id: String,
        owner: String,
        name: String,
        learned_at: u64,
    },
    /// `id` is gone (with its exec sessions, for a container).
    Forget { kind: ObjectKind, id: String },
    /// Container `id` is now called `name`.
    Rename { id: String, name: String },
}

/// Every owned object, indexed for the lookups decisions make.
#[derive(Debug)]
pub(super) struct Record {
    objects: [Objects; 4],
    /// Interned owner names; an [`Entry`] holds the index.
    owners: Vec<Box<str>>,
    owner_index: HashMap<Box<str>, u32>,
    /// Containers per owner, by owner index.
    containers: Vec<u64>,
    /// (container id, exec id) of every exec session.
    execs_of: BTreeSet<(Id, Id)>,
    names: RandomState,
}

fn slot(kind: ObjectKind) -> usize {
    match kind {
        ObjectKind::Container => 0,
        ObjectKind::Exec => 1,
        ObjectKind::Volume => 2,
        ObjectKind::Network => 3,
    }
}

const KINDS: [ObjectKind; 4] = [
    ObjectKind::Container,
    ObjectKind::Exec,
    ObjectKind::Volume,
    ObjectKind::Network,
];

fn has_names(kind: ObjectKind) -> bool {
    matches!(kind, ObjectKind::Container | ObjectKind::Network)
}

fn one_of(mut found: Vec<Owned>) -> Lookup {
    match found.len() {
        0 => Lookup::Unknown,
        1 => Lookup::Found(found.remove(0)),
        matches => Lookup::Ambiguous { matches },
    }
}

impl Default for Record {
    fn default() -> Record {
        Record {
            objects: Default::default(),
            owners: Vec::new(),
            owner_index: HashMap::new(),
            containers: Vec::new(),
            execs_of: BTreeSet::new(),
            names: RandomState::new(),
        }
    }
}

impl Record {
    /// How many objects are recorded, of every kind.
    pub(super) fn len(&self) -> usize {
        self.objects.iter().map(|o| o.by_id.len()).sum()
    }

    fn owned(&self, id: &Id, entry: &Entry) -> Owned {
        Owned {
            id: id.to_string(),
            owner: Owner(self.owners[entry.owner as usize].to_string()),
            name: entry.name.to_string(),
            learned_at: entry.learned_at,
        }
    }

    fn get(&self, kind: ObjectKind, id: &Id) -> Option<Owned> {
        let entry = self.objects[slot(kind)].by_id.get(id)?;
        Some(self.owned(id, entry))
    }

    /// The ids recorded under `kind` and exactly `name`.
    fn ids_named(&self, kind: ObjectKind, name: &str) -> Vec<Id> {
        let objects = &self.objects[slot(kind)];
        let hash = self.names.hash_one(name);
        objects
            .by_name
            .range((hash, Id::lowest())..)
            .take_while(|(h, _)| *h == hash)
            .filter(|(_, id)| objects.by_id.get(id).is_some_and(|e| &*e.name == name))
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Every object of `kind`, in id order.
    pub(super) fn all(&self, kind: ObjectKind) -> Vec<Owned> {
        self.objects[slot(kind)]
            .by_id
            .iter()
            .map(|(id, entry)| self.owned(id, entry))
            .collect()
    }

    /// Every recorded object as the [`Op::Own`] that recreates it: containers before the
    /// exec sessions that are forgotten with them.
    pub(super) fn as_owns(&self) -> impl Iterator<Item = Op> + '_ {
        KINDS.into_iter().flat_map(move |kind| {
            self.objects[slot(kind)]
                .by_id
                .iter()
                .map(move |(id, entry)| Op::Own {
                    kind,
                    id: id.to_string(),
                    owner: self.owners[entry.owner as usize].to_string(),
                    name: entry.name.to_string(),
                    learned_at: entry.learned_at,
                })
        })
    }

    /// The primitive changes `changes` come to: a reconcile becomes the forgets it implies.
    /// Resolved against the record before any of them is applied, which gives the same
    /// result: the only other changes a list teaches are renames, which keep ids.
    pub(super) fn resolve(&self, changes: Vec<Change>) -> Vec<Op> {
        let mut ops = Vec::with_capacity(changes.len());
        for change in changes {
            match change {
                Change::Own { kind, owned } => ops.push(Op::Own {
                    kind,
                    id: owned.id,
                    owner: owned.owner.0,
                    name: owned.name,
                    learned_at: owned.learned_at,
                }),
                Change::Forget { kind, id } => ops.push(Op::Forget { kind, id }),
                Change::Rename { id, name } => ops.push(Op::Rename { id, name }),
                Change::Reconcile {
                    present,
                    learned_before,
                } => {
                    let present: BTreeSet<Id> = present.iter().map(|id| Id::new(id)).collect();
                    let containers = &self.objects[slot(ObjectKind::Container)].by_id;
                    ops.extend(
                        containers
                            .iter()
                            .filter(|(id, e)| {
                                e.learned_at < learned_before && !present.contains(id)
                            })
                            .map(|(id, _)| Op::Forget {
                                kind: ObjectKind::Container,
                                id: id.to_string(),
                            }),
                    );
                }
            }
        }
        ops
    }

    fn intern(&mut self, owner: &str) -> u32 {
        if let Some(&index) = self.owner_index.get(owner) {
            return index;
        }
        let index = u32::try_from(self.owners.len()).expect("fewer than 2^32 owners");
        self.owners.push(owner.into());
        self.owner_index.insert(owner.into(), index);
        self.containers.push(0);
        index
    }

    /// Applies one primitive change.
    pub(super) fn apply(&mut self, op: &Op) {
        match op {
            Op::Own {
                kind,
                id,
                owner,
                name,
                learned_at,
            } => {
                let id = Id::new(id);
                self.forget(*kind, &id);
                let owner = self.intern(owner);
                let entry = Entry {
                    name: name.as_str().into(),
                    learned_at: *learned_at,
                    owner,
                };
                self.objects[slot(*kind)].by_id.insert(id.clone(), entry);
                match kind {
                    ObjectKind::Container => {
                        self.containers[owner as usize] += 1;
                        self.evict_name_holders(name, &id);
                    }
                    ObjectKind::Exec => {
                        self.execs_of.insert((Id::new(name), id.clone()));
                    }
                    _ => {}
                }
                self.index_name(*kind, name, id);
            }
            Op::Forget { kind, id } => self.forget(*kind, &Id::new(id)),
            Op::Rename { id, name } => {
                let id = Id::new(id);
                let containers = &self.objects[slot(ObjectKind::Container)].by_id;
                let Some(old) = containers.get(&id).map(|e| e.name.clone()) else {
                    return;
                };
                self.evict_name_holders(name, &id);
                self.unindex_name(ObjectKind::Container, &old, &id);
                self.index_name(ObjectKind::Container, name, id.clone());
                if let Some(entry) = self.objects[slot(ObjectKind::Container)].by_id.get_mut(&id) {
                    entry.name = name.as_str().into();
                }
            }
        }
    }

    fn index_name(&mut self, kind: ObjectKind, name: &str, id: Id) {
        if has_names(kind) && !name.is_empty() {
            let hash = self.names.hash_one(name);
            self.objects[slot(kind)].by_name.insert((hash, id));
        }
    }

    fn unindex_name(&mut self, kind: ObjectKind, name: &str, id: &Id) {
        if has_names(kind) && !name.is_empty() {
            let hash = self.names.hash_one(name);
            self.objects[slot(kind)].by_name.remove(&(hash, id.clone()));
        }
    }

    /// dockerd's container names are unique: when the daemon gives container `id` a name,
    /// any other record holding that name is of a container the daemon removed unseen.
    fn evict_name_holders(&mut self, name: &str, id: &Id) {
        if name.is_empty() {
            return;
        }
        for holder in self.ids_named(ObjectKind::Container, name) {
            if &holder != id {
                self.forget(ObjectKind::Container, &holder);
            }
        }
    }

    fn forget(&mut self, kind: ObjectKind, id: &Id) {
        let Some(entry) = self.objects[slot(kind)].by_id.remove(id) else {
            return;
        };
        self.unindex_name(kind, &entry.name, id);
        match kind {
            ObjectKind::Container => {
                self.containers[entry.owner as usize] -= 1;
                let execs: Vec<(Id, Id)> = self
                    .execs_of
                    .range((id.clone(), Id::lowest())..)
                    .take_while(|(container, _)| container == id)
                    .cloned()
                    .collect();
                for link in execs {
                    self.objects[slot(ObjectKind::Exec)].by_id.remove(&link.1);
                    self.execs_of.remove(&link);
                }
            }
            ObjectKind::Exec => {
                self.execs_of.remove(&(Id::new(&entry.name), id.clone()));
            }
            _ => {}
        }
    }
}

/// The record as it stands; reading it cannot fail.
impl OwnershipView for Record {
    fn lookup(&self, kind: ObjectKind, reference: &str) -> Result<Lookup, StoreError> {
        if reference.is_empty() {
            return Ok(Lookup::Unknown);
        }
        // dockerd's order: full id, then name, then unique id prefix (containers and
        // networks); exec sessions and volumes answer to their full id (name) only.
        let id = Id::new(reference);
        if let Some(owned) = self.get(kind, &id) {
            return Ok(Lookup::Found(owned));
        }
        let name = match kind {
            ObjectKind::Container => super::container_name(reference),
            ObjectKind::Network => reference,
            ObjectKind::Exec | ObjectKind::Volume => return Ok(Lookup::Unknown),
        };
        let by_name: Vec<Owned> = self
            .ids_named(kind, name)
            .iter()
            .filter_map(|id| self.get(kind, id))
            .collect();
        if !by_name.is_empty() {
            return Ok(one_of(by_name));
        }
        let by_prefix = self.objects[slot(kind)]
            .by_id
            .range(id..)
            .take_while(|(id, _)| id.starts_with(reference))
            .take(2)
            .map(|(id, entry)| self.owned(id, entry))
            .collect();
        Ok(one_of(by_prefix))
    }

    fn networks_named(&self, name: &str) -> Result<Vec<Owned>, StoreError> {
        Ok(self
            .ids_named(ObjectKind::Network, name)
            .iter()
            .filter_map(|id| self.get(ObjectKind::Network, id))
            .collect())
    }

    fn containers_owned(&self, owner: &Owner) -> Result<u64, StoreError> {
        Ok(self
            .owner_index
            .get(owner.0.as_str())
            .map_or(0, |&index| self.containers[index as usize]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_sort_among_text_ids_as_their_text() {
        let hex = "0a".repeat(32);
        let mut ids = [
            Id::new("0b"),
            Id::new(&hex),
            Id::new("0a"),
            Id::new(&"ff".repeat(32)),
            Id::new("0a0a0a"),
            Id::new("zz"),
        ];
        ids.sort();
        let texts: Vec<String> = ids.iter().map(Id::to_string).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
        assert!(matches!(Id::new(&hex), Id::Hex(_)));
        assert!(matches!(Id::new(&"0A".repeat(32)), Id::Text(_)));
    }

    #[test]
    fn a_hex_id_starts_with_its_text_prefixes_only() {
        let id = Id::new(
            &"5eb63bbbe01e"
                .repeat(5)
                .chars()
                .chain("abcd".chars())
                .collect::<String>(),
        );
        assert!(id.starts_with("5eb63b"));
        assert!(id.starts_with(""));
        assert!(!id.starts_with("5eb63c"));
        assert!(!id.starts_with(&format!("{id}0")));
    }
}
