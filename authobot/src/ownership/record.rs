//! The ownership record in memory, the source of truth for every lookup: owned objects by
//! id (ordered, for dockerd's id-prefix resolution), by name, containers per owner (quotas)
//! and exec sessions per container.
//!
//! Kept compact because one plugin may hold 100,000 containers: each object is one slot (a
//! 64-hex id held as its 32 bytes, an interned owner, its name as one allocation), and the
//! indexes hold slot numbers with a 16-byte head of the id or a hash of the name, never a
//! second copy of either.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
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

/// The first 16 bytes of an id's text, zero-padded: the key of the id index. Ordered as
/// the text, so the ids starting with a prefix are one range of heads; an index entry is
/// 20 bytes instead of a whole id.
type Head = [u8; 16];

fn head_of_text(text: &[u8]) -> Head {
    let mut head = [0u8; 16];
    let n = text.len().min(16);
    head[..n].copy_from_slice(&text[..n]);
    head
}

fn id_head(id: &Id) -> Head {
    match id {
        Id::Hex(bytes) => {
            let mut head = [0u8; 16];
            head.iter_mut()
                .zip(hex_text(bytes))
                .for_each(|(h, d)| *h = d);
            head
        }
        Id::Text(text) => head_of_text(text.as_bytes()),
    }
}

/// One recorded object.
#[derive(Debug)]
struct Slot {
    id: Id,
    /// A container's or network's name; an exec session's container id; empty otherwise.
    name: Box<str>,
    learned_at: u64,
    /// Index into [`Record::owners`].
    owner: u32,
    kind: ObjectKind,
}

/// How many slots one chunk of [`Slots`] holds: the slots grow a chunk at a time, never
/// by copying them all to a larger block (which would double the peak memory).
const CHUNK: usize = 4096;

/// Every object, in numbered slots that the indexes refer to.
#[derive(Debug, Default)]
struct Slots {
    chunks: Vec<Vec<Option<Slot>>>,
    /// Emptied slots, reused first.
    free: Vec<u32>,
}

impl Slots {
    fn get(&self, n: u32) -> Option<&Slot> {
        let n = n as usize;
        self.chunks.get(n / CHUNK)?.get(n % CHUNK)?.as_ref()
    }

    fn get_mut(&mut self, n: u32) -> Option<&mut Slot> {
        let n = n as usize;
        self.chunks.get_mut(n / CHUNK)?.get_mut(n % CHUNK)?.as_mut()
    }

    fn insert(&mut self, slot: Slot) -> u32 {
        if let Some(n) = self.free.pop() {
            self.chunks[n as usize / CHUNK][n as usize % CHUNK] = Some(slot);
            return n;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let count = (self.chunks.len() - 1) * CHUNK;
        let chunk = self.chunks.last_mut().expect("a chunk was just ensured");
        let n = u32::try_from(count + chunk.len()).expect("fewer than 2^32 objects");
        chunk.push(Some(slot));
        n
    }

    fn remove(&mut self, n: u32) -> Option<Slot> {
        let taken = self.chunks[n as usize / CHUNK][n as usize % CHUNK].take();
        if taken.is_some() {
            self.free.push(n);
        }
        taken
    }
}

/// Every owned object, indexed for the lookups decisions make.
#[derive(Debug)]
pub(super) struct Record {
    slots: Slots,
    /// (head of the id, slot) per kind.
    by_id: [BTreeSet<(Head, u32)>; 4],
    /// (hash of the name, slot) of named containers and networks; a hash match is checked
    /// against the slot's name.
    by_name: BTreeSet<(u64, u32)>,
    /// (head of the container id, exec slot) of every exec session.
    execs_of: BTreeSet<(Head, u32)>,
    /// Interned owner names; a [`Slot`] holds the index.
    owners: Vec<Box<str>>,
    owner_index: HashMap<Box<str>, u32>,
    /// Containers per owner, by owner index.
    containers: Vec<u64>,
    names: RandomState,
}

fn kind_index(kind: ObjectKind) -> usize {
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
            slots: Slots::default(),
            by_id: Default::default(),
            by_name: BTreeSet::new(),
            execs_of: BTreeSet::new(),
            owners: Vec::new(),
            owner_index: HashMap::new(),
            containers: Vec::new(),
            names: RandomState::new(),
        }
    }
}

impl Record {
    /// How many objects are recorded, of every kind.
    pub(super) fn len(&self) -> usize {
        self.by_id.iter().map(BTreeSet::len).sum()
    }

    fn owned(&self, slot: &Slot) -> Owned {
        Owned {
            id: slot.id.to_string(),
            owner: Owner(self.owners[slot.owner as usize].to_string()),
            name: slot.name.to_string(),
            learned_at: slot.learned_at,
        }
    }

    /// The slots of `kind` whose id starts with `prefix`, in no particular order.
    fn starting_with<'a>(
        &'a self,
        kind: ObjectKind,
        prefix: &'a str,
    ) -> impl Iterator<Item = (u32, &'a Slot)> + 'a {
        let bytes = prefix.as_bytes();
        let within = bytes.len().min(16);
        self.by_id[kind_index(kind)]
            .range((head_of_text(bytes), 0)..)
            .take_while(move |(head, _)| head[..within] == bytes[..within])
            .filter_map(|&(_, n)| Some((n, self.slots.get(n)?)))
            .filter(move |(_, slot)| slot.id.starts_with(prefix))
    }

    /// The slot of `kind` holding exactly `id`.
    fn find(&self, kind: ObjectKind, id: &Id) -> Option<(u32, &Slot)> {
        let head = id_head(id);
        self.by_id[kind_index(kind)]
            .range((head, 0)..=(head, u32::MAX))
            .filter_map(|&(_, n)| Some((n, self.slots.get(n)?)))
            .find(|(_, slot)| &slot.id == id)
    }

    /// The slots of `kind` named exactly `name`.
    fn named(&self, kind: ObjectKind, name: &str) -> Vec<u32> {
        let hash = self.names.hash_one(name);
        self.by_name
            .range((hash, 0)..=(hash, u32::MAX))
            .map(|&(_, n)| n)
            .filter(|&n| {
                self.slots
                    .get(n)
                    .is_some_and(|s| s.kind == kind && &*s.name == name)
            })
            .collect()
    }

    /// Every object of `kind`, in id order.
    pub(super) fn all(&self, kind: ObjectKind) -> Vec<Owned> {
        let mut slots: Vec<&Slot> = self.by_id[kind_index(kind)]
            .iter()
            .filter_map(|&(_, n)| self.slots.get(n))
            .collect();
        slots.sort_by(|a, b| a.id.cmp(&b.id));
        slots.into_iter().map(|slot| self.owned(slot)).collect()
    }

    /// Every recorded object as the [`Op::Own`] that recreates it, containers first.
    pub(super) fn as_owns(&self) -> impl Iterator<Item = Op> + '_ {
        KINDS.into_iter().flat_map(move |kind| {
            self.by_id[kind_index(kind)]
                .iter()
                .filter_map(|&(_, n)| self.slots.get(n))
                .map(move |slot| Op::Own {
                    kind,
                    id: slot.id.to_string(),
                    owner: self.owners[slot.owner as usize].to_string(),
                    name: slot.name.to_string(),
                    learned_at: slot.learned_at,
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
                    ops.extend(
                        self.by_id[kind_index(ObjectKind::Container)]
                            .iter()
                            .filter_map(|&(_, n)| self.slots.get(n))
                            .filter(|s| s.learned_at < learned_before && !present.contains(&s.id))
                            .map(|s| Op::Forget {
                                kind: ObjectKind::Container,
                                id: s.id.to_string(),
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
                if *kind == ObjectKind::Container {
                    self.containers[owner as usize] += 1;
                    self.evict_name_holders(name, &id);
                }
                let head = id_head(&id);
                let n = self.slots.insert(Slot {
                    id,
                    name: name.as_str().into(),
                    learned_at: *learned_at,
                    owner,
                    kind: *kind,
                });
                self.by_id[kind_index(*kind)].insert((head, n));
                if *kind == ObjectKind::Exec {
                    self.execs_of.insert((head_of_text(name.as_bytes()), n));
                }
                self.index_name(*kind, name, n);
            }
            Op::Forget { kind, id } => self.forget(*kind, &Id::new(id)),
            Op::Rename { id, name } => {
                let id = Id::new(id);
                let Some((n, slot)) = self.find(ObjectKind::Container, &id) else {
                    return;
                };
                let old = slot.name.clone();
                self.evict_name_holders(name, &id);
                self.unindex_name(ObjectKind::Container, &old, n);
                self.index_name(ObjectKind::Container, name, n);
                if let Some(slot) = self.slots.get_mut(n) {
                    slot.name = name.as_str().into();
                }
            }
        }
    }

    fn index_name(&mut self, kind: ObjectKind, name: &str, n: u32) {
        if has_names(kind) && !name.is_empty() {
            self.by_name.insert((self.names.hash_one(name), n));
        }
    }

    fn unindex_name(&mut self, kind: ObjectKind, name: &str, n: u32) {
        if has_names(kind) && !name.is_empty() {
            self.by_name.remove(&(self.names.hash_one(name), n));
        }
    }

    /// dockerd's container names are unique: when the daemon gives container `id` a name,
    /// any other record holding that name is of a container the daemon removed unseen.
    fn evict_name_holders(&mut self, name: &str, id: &Id) {
        if name.is_empty() {
            return;
        }
        for holder in self.named(ObjectKind::Container, name) {
            let other = self
                .slots
                .get(holder)
                .filter(|s| &s.id != id)
                .map(|s| s.id.clone());
            if let Some(other) = other {
                self.forget(ObjectKind::Container, &other);
            }
        }
    }

    fn forget(&mut self, kind: ObjectKind, id: &Id) {
        let Some((n, _)) = self.find(kind, id) else {
            return;
        };
        let Some(slot) = self.slots.remove(n) else {
            return;
        };
        let head = id_head(id);
        self.by_id[kind_index(kind)].remove(&(head, n));
        self.unindex_name(kind, &slot.name, n);
        match kind {
            ObjectKind::Container => {
                self.containers[slot.owner as usize] -= 1;
                let execs: Vec<u32> = self
                    .execs_of
                    .range((head, 0)..=(head, u32::MAX))
                    .map(|&(_, exec)| exec)
                    .filter(|&exec| {
                        self.slots
                            .get(exec)
                            .is_some_and(|e| Id::new(&e.name) == *id)
                    })
                    .collect();
                for exec in execs {
                    if let Some(removed) = self.slots.remove(exec) {
                        self.by_id[kind_index(ObjectKind::Exec)]
                            .remove(&(id_head(&removed.id), exec));
                    }
                    self.execs_of.remove(&(head, exec));
                }
            }
            ObjectKind::Exec => {
                self.execs_of
                    .remove(&(head_of_text(slot.name.as_bytes()), n));
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
        if let Some((_, slot)) = self.find(kind, &Id::new(reference)) {
            return Ok(Lookup::Found(self.owned(slot)));
        }
        let name = match kind {
            ObjectKind::Container => super::container_name(reference),
            ObjectKind::Network => reference,
            ObjectKind::Exec | ObjectKind::Volume => return Ok(Lookup::Unknown),
        };
        let by_name: Vec<Owned> = self
            .named(kind, name)
            .into_iter()
            .filter_map(|n| self.slots.get(n))
            .map(|slot| self.owned(slot))
            .collect();
        if !by_name.is_empty() {
            return Ok(one_of(by_name));
        }
        let by_prefix = self
            .starting_with(kind, reference)
            .take(2)
            .map(|(_, slot)| self.owned(slot))
            .collect();
        Ok(one_of(by_prefix))
    }

    fn networks_named(&self, name: &str) -> Result<Vec<Owned>, StoreError> {
        Ok(self
            .named(ObjectKind::Network, name)
            .into_iter()
            .filter_map(|n| self.slots.get(n))
            .map(|slot| self.owned(slot))
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

    fn own(record: &mut Record, kind: ObjectKind, id: &str, name: &str) {
        record.apply(&Op::Own {
            kind,
            id: id.into(),
            owner: "alice".into(),
            name: name.into(),
            learned_at: 1,
        });
    }

    fn found(record: &Record, kind: ObjectKind, reference: &str) -> Option<String> {
        match record.lookup(kind, reference).unwrap() {
            Lookup::Found(owned) => Some(owned.id),
            _ => None,
        }
    }

    #[test]
    fn ids_sharing_their_first_16_digits_stay_apart() {
        let shared = "0123456789abcdef0123";
        let a = format!("{shared}{}", "a".repeat(44));
        let b = format!("{shared}{}", "b".repeat(44));
        let mut record = Record::default();
        own(&mut record, ObjectKind::Container, &a, "one");
        own(&mut record, ObjectKind::Container, &b, "two");
        own(&mut record, ObjectKind::Exec, &"e".repeat(64), &a);
        assert_eq!(found(&record, ObjectKind::Container, &a), Some(a.clone()));
        assert_eq!(found(&record, ObjectKind::Container, &b), Some(b.clone()));
        assert_eq!(
            record.lookup(ObjectKind::Container, shared).unwrap(),
            Lookup::Ambiguous { matches: 2 }
        );
        assert_eq!(
            found(&record, ObjectKind::Container, &format!("{shared}b")),
            Some(b.clone())
        );
        record.apply(&Op::Forget {
            kind: ObjectKind::Container,
            id: b.clone(),
        });
        assert_eq!(
            found(&record, ObjectKind::Container, shared),
            Some(a.clone())
        );
        assert!(found(&record, ObjectKind::Exec, &"e".repeat(64)).is_some());
        record.apply(&Op::Forget {
            kind: ObjectKind::Container,
            id: a,
        });
        assert_eq!(found(&record, ObjectKind::Exec, &"e".repeat(64)), None);
        assert_eq!(record.len(), 0);
    }

    #[test]
    fn emptied_slots_are_reused() {
        let mut record = Record::default();
        for round in 0..3 {
            for n in 0..CHUNK + 10 {
                own(&mut record, ObjectKind::Volume, &format!("v{n}"), "");
            }
            for n in 0..CHUNK + 10 {
                record.apply(&Op::Forget {
                    kind: ObjectKind::Volume,
                    id: format!("v{n}"),
                });
            }
            assert_eq!(record.len(), 0, "round {round}");
        }
        assert_eq!(record.slots.chunks.len(), 2);
    }

    /// The semantics of the record, spelled as plainly as possible: a list of objects
    /// searched in full for every lookup.
    #[derive(Debug, Default, Clone)]
    struct Model(Vec<(ObjectKind, Owned)>);

    impl Model {
        fn forget(&mut self, kind: ObjectKind, id: &str) {
            let before = self.0.len();
            self.0.retain(|(k, o)| !(*k == kind && o.id == id));
            if kind == ObjectKind::Container && self.0.len() < before {
                self.0
                    .retain(|(k, o)| !(*k == ObjectKind::Exec && o.name == id));
            }
        }

        fn evict(&mut self, name: &str, id: &str) {
            let holders: Vec<String> = self
                .0
                .iter()
                .filter(|(k, o)| *k == ObjectKind::Container && o.name == name && o.id != id)
                .map(|(_, o)| o.id.clone())
                .collect();
            if !name.is_empty() {
                holders
                    .iter()
                    .for_each(|h| self.forget(ObjectKind::Container, h));
            }
        }

        fn apply(&mut self, op: &Op) {
            match op.clone() {
                Op::Own {
                    kind,
                    id,
                    owner,
                    name,
                    learned_at,
                } => {
                    self.forget(kind, &id);
                    if kind == ObjectKind::Container {
                        self.evict(&name, &id);
                    }
                    let owner = Owner(owner);
                    self.0.push((
                        kind,
                        Owned {
                            id,
                            owner,
                            name,
                            learned_at,
                        },
                    ));
                }
                Op::Forget { kind, id } => self.forget(kind, &id),
                Op::Rename { id, name } => {
                    let exists = self
                        .0
                        .iter()
                        .any(|(k, o)| *k == ObjectKind::Container && o.id == id);
                    if exists {
                        self.evict(&name, &id);
                        for (k, o) in &mut self.0 {
                            if *k == ObjectKind::Container && o.id == id {
                                o.name.clone_from(&name);
                            }
                        }
                    }
                }
            }
        }

        fn lookup(&self, kind: ObjectKind, reference: &str) -> Lookup {
            let of_kind = || {
                self.0
                    .iter()
                    .filter(move |(k, _)| *k == kind)
                    .map(|(_, o)| o)
            };
            // A prefix scan stops at the second match; names are counted in full.
            let found = |matches: Vec<&Owned>, cap: usize| match matches.len() {
                0 => Lookup::Unknown,
                1 => Lookup::Found(matches[0].clone()),
                n => Lookup::Ambiguous {
                    matches: n.min(cap),
                },
            };
            if reference.is_empty() {
                return Lookup::Unknown;
            }
            if let Some(o) = of_kind().find(|o| o.id == reference) {
                return Lookup::Found(o.clone());
            }
            let name = match kind {
                ObjectKind::Container => super::super::container_name(reference),
                ObjectKind::Network => reference,
                _ => return Lookup::Unknown,
            };
            let named: Vec<&Owned> = of_kind()
                .filter(|o| !name.is_empty() && o.name == name)
                .collect();
            if !named.is_empty() {
                return found(named, usize::MAX);
            }
            found(
                of_kind().filter(|o| o.id.starts_with(reference)).collect(),
                2,
            )
        }
    }

    const IDS: [&str; 8] = [
        "0123456789abcdef0123aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "0123456789abcdef0123bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "0123456789abcdef0123aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac",
        "fe00000000000000000000000000000000000000000000000000000000000000",
        "fe",
        "fe0",
        "0123456789abcdef",
        "web",
    ];
    const NAMES: [&str; 4] = ["", "web", "db", "0123"];
    const KINDS_USED: [ObjectKind; 4] = KINDS;

    fn references() -> Vec<String> {
        let mut out: Vec<String> = NAMES.iter().map(|n| format!("/{n}")).collect();
        out.extend(NAMES.iter().map(|n| n.to_string()));
        for id in IDS {
            for len in [1, 2, 3, 4, 15, 16, 17, 20, 21, 63, 64] {
                out.extend(id.get(..len).map(str::to_owned));
            }
        }
        out
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        (
            0..3usize,
            0..4usize,
            0..IDS.len(),
            0..IDS.len(),
            0..NAMES.len(),
            0..3u64,
        )
            .prop_map(|(what, kind, id, other, name, owner)| {
                let kind = KINDS_USED[kind];
                let id = IDS[id].to_owned();
                match what {
                    0 => Op::Own {
                        kind,
                        name: if kind == ObjectKind::Exec {
                            IDS[other].to_owned()
                        } else {
                            NAMES[name].to_owned()
                        },
                        id,
                        owner: format!("u{owner}"),
                        learned_at: owner,
                    },
                    1 => Op::Forget { kind, id },
                    _ => Op::Rename {
                        id,
                        name: NAMES[name].to_owned(),
                    },
                }
            })
    }

    fn sorted(mut owned: Vec<Owned>) -> Vec<Owned> {
        owned.sort_by(|a, b| a.id.cmp(&b.id));
        owned
    }

    proptest::proptest! {
        #[test]
        fn the_record_answers_as_the_plain_model_and_so_does_its_snapshot(
            ops in proptest::collection::vec(op(), 1..60)
        ) {
            let mut record = Record::default();
            let mut model = Model::default();
            for op in &ops {
                record.apply(op);
                model.apply(op);
            }
            let mut rebuilt = Record::default();
            record.as_owns().for_each(|op| rebuilt.apply(&op));
            for reference in references() {
                for kind in KINDS {
                    let expected = model.lookup(kind, &reference);
                    proptest::prop_assert_eq!(record.lookup(kind, &reference).unwrap(), expected.clone(), "{:?} {}", kind, reference);
                    proptest::prop_assert_eq!(rebuilt.lookup(kind, &reference).unwrap(), expected, "snapshot {:?} {}", kind, reference);
                }
            }
            for kind in KINDS {
                let expected: Vec<Owned> = model.0.iter().filter(|(k, _)| *k == kind).map(|(_, o)| o.clone()).collect();
                proptest::prop_assert_eq!(record.all(kind), sorted(expected));
            }
            for owner in ["u0", "u1", "u2"] {
                let owner = Owner(owner.into());
                let expected = model.0.iter().filter(|(k, o)| *k == ObjectKind::Container && o.owner == owner).count() as u64;
                proptest::prop_assert_eq!(record.containers_owned(&owner).unwrap(), expected);
            }
        }
    }
}
