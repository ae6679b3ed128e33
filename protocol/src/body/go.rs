//! Go's `encoding/json` decoding rules, applied to a token tape against a Go type description.
//!
//! The canonicaliser does not map JSON onto Rust structs directly: it replays what Go's
//! reflection-based decoder does to a Go value, including the parts that surprise (a repeated
//! key of a struct merges into it; `null` resets pointers, slices and maps but leaves scalars;
//! a slice reuses its old backing array, so a shorter array followed by a longer one revives
//! stale elements; embedded pointers are allocated as soon as one of their keys appears).
//! The Go types themselves are data ([`Ty`], see `schema.rs`); the model is read out of the
//! resulting [`GoValue`] afterwards. Only fields the model reads are stored: the others get
//! Go's type check and nothing else (a type error anywhere still refuses the body), so a body
//! is decoded in one pass without building what nobody reads.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::json::{same_bytes, Failure, Literal, Reader, Trailing};
use super::BodyError;

/// A Go type, as far as JSON decoding can tell types apart.
#[derive(Debug)]
pub(crate) enum Ty {
    /// `bool`.
    Bool,
    /// A signed integer of this many bits (`int` is 64 here).
    Int(u32),
    /// An unsigned integer of this many bits.
    Uint(u32),
    /// `string` (and named string types such as `container.NetworkMode`).
    Str,
    /// `*T`.
    Ptr(&'static Ty),
    /// `[]T`.
    Slice(&'static Ty),
    /// `[N]T`.
    Array(usize, &'static Ty),
    /// `map[string]T`.
    Map(&'static Ty),
    /// A struct.
    Struct(&'static StructTy),
    /// `strslice.StrSlice`: a list of strings, or one string, through its own UnmarshalJSON.
    StrSlice,
    /// A value we neither keep nor type-check (`json.RawMessage` in the oracle): accepted as
    /// long as it is valid JSON. A type error inside makes dockerd refuse the request, so
    /// accepting it can only ever allow less than the daemon would do.
    Raw,
}

/// Which fields a decode stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Only [`Field::read`] fields (and embedded ones): what the model reads out.
    Read,
    /// Every field: the whole Go value, for a document written back as JSON
    /// (`document.rs`). In this mode a struct's slot of a field is its declared index.
    All,
}

impl Ty {
    /// Whether a value of this type keeps nothing under `keep`: a struct without stored
    /// fields, a pointer to one, or [`Ty::Raw`].
    fn stores_nothing(&'static self, keep: Keep) -> bool {
        match self {
            Ty::Struct(st) => st.layout_for(keep).stored.is_empty(),
            Ty::Ptr(inner) => inner.stores_nothing(keep),
            Ty::Raw => true,
            _ => false,
        }
    }
}

/// A Go struct type: its fields in declaration order.
#[derive(Debug)]
pub(crate) struct StructTy {
    /// Declared fields.
    pub fields: &'static [Field],
    /// The JSON-visible fields after Go's embedding rules and their lookup tables, computed
    /// once.
    layout: OnceLock<Layout>,
    /// The same with every field stored ([`Keep::All`]).
    layout_all: OnceLock<Layout>,
}

/// A struct's JSON-visible fields with a table that finds one by key cheaply.
#[derive(Debug)]
struct Layout {
    /// The fields, in Go's `typeFields` order.
    flat: Vec<FlatField>,
    /// Open addressing over the names: `(name, index into flat)` at the [`home`] of the name
    /// or at the next vacant place after it (vacant places have an empty name). At most half
    /// full, so every probe soon ends.
    table: Box<[(&'static str, usize)]>,
    /// The types of the stored fields ([`Field::read`]), by slot.
    stored: Vec<&'static Ty>,
}

/// Where a name, or a key folded by [`fold_key`], starts its probe in a table of `mask + 1`
/// places. Keys that fold to a name start where it does: only the length and bytes with bit
/// 0x20 set go in, and ASCII case differs in that bit alone. The names are ours and fixed,
/// so a client's key can at worst be compared with the few names of one run.
fn home(name: &[u8], mask: usize) -> usize {
    let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
        return 0;
    };
    let middle = name[name.len() / 2];
    let mixed = name.len() as u64
        | u64::from(first | 0x20) << 8
        | u64::from(middle | 0x20) << 16
        | u64::from(last | 0x20) << 24;
    (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & mask
}

impl Layout {
    fn new(st: &'static StructTy, flat: Vec<FlatField>, keep: Keep) -> Layout {
        assert!(
            flat.iter()
                .all(|f| f.name.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')),
            "a field name needs escaping in JSON, so Reader::exact_key cannot find it"
        );
        let mut table = vec![("", 0); (flat.len() * 2).next_power_of_two()].into_boxed_slice();
        let mask = table.len() - 1;
        for (index, field) in flat.iter().enumerate() {
            let mut at = home(field.name.as_bytes(), mask);
            while !table[at].0.is_empty() {
                at = (at + 1) & mask;
            }
            table[at] = (field.name, index);
        }
        let stored = st
            .fields
            .iter()
            .filter(|f| f.read || keep == Keep::All)
            .map(|f| &f.ty)
            .collect();
        Layout {
            flat,
            table,
            stored,
        }
    }

    /// `(name, index into flat)` of every field whose name may match `folded` (a key, or a
    /// key folded by [`fold_key`]): the run of occupied places from its home.
    fn candidates<'l>(&'l self, folded: &[u8]) -> impl Iterator<Item = (&'static str, usize)> + 'l {
        let mask = self.table.len() - 1;
        let mut at = home(folded, mask);
        std::iter::from_fn(move || {
            let entry = self.table[at];
            at = (at + 1) & mask;
            (!entry.0.is_empty()).then_some(entry)
        })
    }

    /// The index in `flat` of the field named exactly `name`.
    fn exact(&self, name: &[u8]) -> Option<usize> {
        self.candidates(name)
            .find(|(candidate, _)| same_bytes(candidate.as_bytes(), name))
            .map(|(_, index)| index)
    }

    /// The index in `flat` of the first field whose name folds to `folded`.
    fn first_folded(&self, folded: &[u8]) -> Option<usize> {
        self.candidates(folded)
            .filter(|(candidate, _)| candidate.as_bytes().eq_ignore_ascii_case(folded))
            .map(|(_, index)| index)
            .min()
    }

    /// The field `key` decodes into, as Go's `object()` picks it, as an index in `flat`: the
    /// field with exactly that name, else the first whose name folds to the key (see
    /// [`fold_key`]).
    fn index_for_key(&self, key: &str) -> Option<usize> {
        // An exact match wins whatever comes before it; it is also what real clients send.
        if let Some(exact) = self.exact(key.as_bytes()) {
            return Some(exact);
        }
        if key.is_ascii() {
            return self.first_folded(key.as_bytes());
        }
        // Field names are ASCII, and only Kelvin and long s fold to ASCII.
        let mut buf = [0u8; MAX_FOLDED_KEY];
        self.first_folded(fold_key(key, &mut buf)?)
    }
}

/// The longest field name of any schema struct is shorter than this; a longer key cannot
/// match one, not even by folding (folding maps one rune to one byte).
const MAX_FOLDED_KEY: usize = 64;

/// One declared struct field.
#[derive(Debug)]
pub(crate) struct Field {
    /// Its JSON name (tag name or Go name); for an embedded field, the type name.
    pub name: &'static str,
    /// Its type.
    pub ty: Ty,
    /// An embedded (anonymous, untagged) struct or pointer-to-struct: its fields are promoted.
    pub embedded: bool,
    /// The model reads the field, so its value is stored; other fields are type-checked only.
    pub read: bool,
}

impl Field {
    /// A field the model reads.
    pub(crate) const fn read(name: &'static str, ty: Ty) -> Field {
        Field {
            name,
            ty,
            embedded: false,
            read: true,
        }
    }

    /// A field no policy reads: dockerd still refuses a body whose value has the wrong type.
    pub(crate) const fn checked(name: &'static str, ty: Ty) -> Field {
        Field {
            name,
            ty,
            embedded: false,
            read: false,
        }
    }

    /// An embedded struct (or pointer to one), whose fields are promoted; always stored,
    /// because Go allocates an embedded pointer as soon as any promoted key appears.
    pub(crate) const fn embedded(name: &'static str, ty: Ty) -> Field {
        Field {
            name,
            ty,
            embedded: true,
            read: true,
        }
    }
}

/// A JSON-visible field: its name, type, and the index path through embedded structs.
#[derive(Debug, Clone)]
pub(crate) struct FlatField {
    pub name: &'static str,
    pub ty: &'static Ty,
    pub path: Vec<usize>,
    /// Where the value is stored: the slot ([`StructTy::slot_of`]) of each step of `path`;
    /// one short of `path` when the field is not read.
    pub slots: Vec<usize>,
    /// Whether the value is stored ([`Field::read`]).
    pub read: bool,
    /// Whether `path` passes through an embedded pointer, which Go allocates when the key
    /// appears: then even an unread field changes the stored value.
    pub through_pointer: bool,
}

impl StructTy {
    pub(crate) const fn new(fields: &'static [Field]) -> StructTy {
        StructTy {
            fields,
            layout: OnceLock::new(),
            layout_all: OnceLock::new(),
        }
    }

    /// Where a struct value stores its declared field `index`: only read fields (and
    /// embedded ones) have a slot, in declaration order.
    pub(crate) fn slot_of(&self, index: usize) -> Option<usize> {
        let field = self.fields.get(index)?;
        field
            .read
            .then(|| self.fields[..index].iter().filter(|f| f.read).count())
    }

    /// Go's `typeFields`: promoted fields of embedded structs, the shallowest name winning;
    /// names that collide at the same depth are dropped; order is declaration order.
    #[cfg(test)]
    pub(crate) fn flat_fields(&'static self) -> &'static [FlatField] {
        &self.layout().flat
    }

    /// The field a JSON key decodes into, as Go's `object()` picks it: the field with
    /// exactly that name, else the first whose name folds to the key (see [`fold_key`]).
    #[cfg(test)]
    pub(crate) fn field_for_key(&'static self, key: &str) -> Option<&'static FlatField> {
        let layout = self.layout();
        layout.flat.get(layout.index_for_key(key)?)
    }

    /// The field `key` decodes into ([`Layout::index_for_key`]), for the keys of one object
    /// in turn. Clients write the
    /// fields of a struct in declaration order, so the field after the previous key's is
    /// checked first (`next`, updated); an exact name is Go's choice whatever precedes it.
    fn member(
        &'static self,
        key: &str,
        next: &mut usize,
        keep: Keep,
    ) -> Option<&'static FlatField> {
        let layout = self.layout_for(keep);
        let index = match layout.flat.get(*next) {
            Some(field) if same_bytes(field.name.as_bytes(), key.as_bytes()) => *next,
            _ => layout.index_for_key(key)?,
        };
        *next = index + 1;
        layout.flat.get(index)
    }

    /// The field with exactly this JSON name, promoted fields included.
    pub(crate) fn field_named(&'static self, name: &str) -> Option<&'static FlatField> {
        let layout = self.layout();
        layout.flat.get(layout.exact(name.as_bytes())?)
    }

    fn layout(&'static self) -> &'static Layout {
        self.layout_for(Keep::Read)
    }

    fn layout_for(&'static self, keep: Keep) -> &'static Layout {
        let cell = match keep {
            Keep::Read => &self.layout,
            Keep::All => &self.layout_all,
        };
        cell.get_or_init(|| Layout::new(self, self.collect_flat_fields(keep), keep))
    }

    /// The JSON-visible fields in Go's `typeFields` order, every one stored
    /// ([`Keep::All`]): what Go's encoder writes, in its order.
    pub(crate) fn all_fields(&'static self) -> &'static [FlatField] {
        &self.layout_for(Keep::All).flat
    }

    fn collect_flat_fields(&'static self, keep: Keep) -> Vec<FlatField> {
        let mut all: Vec<(FlatField, usize)> = Vec::new();
        collect_fields(
            self,
            &mut Vec::new(),
            &mut Vec::new(),
            false,
            keep,
            &mut all,
        );
        let mut out = Vec::new();
        for (field, depth) in &all {
            let min = all
                .iter()
                .filter(|(f, _)| f.name == field.name)
                .map(|(_, d)| *d)
                .min()
                .unwrap_or(*depth);
            let at_min = all
                .iter()
                .filter(|(f, d)| f.name == field.name && *d == min)
                .count();
            if *depth == min && at_min == 1 {
                out.push(field.clone());
            }
        }
        out
    }
}

fn collect_fields(
    st: &'static StructTy,
    path: &mut Vec<usize>,
    slots: &mut Vec<usize>,
    through_pointer: bool,
    keep: Keep,
    out: &mut Vec<(FlatField, usize)>,
) {
    let mut next_slot = 0;
    for (i, field) in st.fields.iter().enumerate() {
        let stored = field.read || keep == Keep::All;
        let slot = stored.then_some(next_slot);
        next_slot += usize::from(stored);
        path.push(i);
        let inner = match (&field.ty, field.embedded) {
            (Ty::Struct(s), true) => Some((*s, through_pointer)),
            (Ty::Ptr(Ty::Struct(s)), true) => Some((*s, true)),
            _ => None,
        };
        match inner {
            Some((s, through_pointer)) => {
                // Embedded fields are always stored.
                slots.extend(slot);
                collect_fields(s, path, slots, through_pointer, keep, out);
                slots.truncate(path.len() - 1);
            }
            None => out.push((
                FlatField {
                    name: field.name,
                    ty: &field.ty,
                    path: path.clone(),
                    slots: slots.iter().copied().chain(slot).collect(),
                    read: stored,
                    through_pointer,
                },
                path.len() - 1,
            )),
        }
        path.pop();
    }
}

/// Writes `key` folded for Go's key matching into `buf`: ASCII lower-cased, U+212A KELVIN
/// SIGN as `k`, U+017F LATIN SMALL LETTER LONG S as `s`. `None` when the key holds any other
/// non-ASCII rune or is too long: then it folds to no (ASCII) field name at all.
/// `fold_key(key) == name.to_ascii_lowercase()` exactly when [`go_fold_eq`] holds.
fn fold_key<'b>(key: &str, buf: &'b mut [u8; MAX_FOLDED_KEY]) -> Option<&'b [u8]> {
    let mut len = 0;
    for c in key.chars() {
        let folded = match c {
            '\u{212A}' => b'k',
            '\u{17F}' => b's',
            c if c.is_ascii() => (c as u8).to_ascii_lowercase(),
            _ => return None,
        };
        *buf.get_mut(len)? = folded;
        len += 1;
    }
    Some(&buf[..len])
}

/// Go's key matching (`encoding/json/fold.go`): ASCII letters match either case, `k`/`K`
/// also match U+212A KELVIN SIGN and `s`/`S` U+017F LATIN SMALL LETTER LONG S; nothing else
/// folds. `name` is an ASCII field name. The decoder uses the equivalent [`fold_key`]
/// tables; this direct statement of the rule is what they are tested against.
#[cfg(test)]
pub(crate) fn go_fold_eq(name: &str, key: &str) -> bool {
    let mut key_chars = key.chars();
    for n in name.bytes() {
        let Some(k) = key_chars.next() else {
            return false;
        };
        let matches = if k.is_ascii() {
            let k = k as u8;
            k == n || (n.is_ascii_alphabetic() && k.eq_ignore_ascii_case(&n))
        } else {
            match n {
                b's' | b'S' => k == '\u{17F}',
                b'k' | b'K' => k == '\u{212A}',
                _ => false,
            }
        };
        if !matches {
            return false;
        }
    }
    key_chars.next().is_none()
}

/// A Go value of some [`Ty`], with Go's distinctions (nil vs empty, slice capacity).
/// Strings and map keys borrow from the body unless unquoting changed them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GoValue<'t> {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Str(Cow<'t, str>),
    /// A pointer: `None` is nil.
    Ptr(Option<Box<GoValue<'t>>>),
    /// A slice: `backing` is the whole backing array (its length is the capacity), the
    /// visible elements are `backing[..len]`.
    Slice {
        nil: bool,
        len: usize,
        backing: Vec<GoValue<'t>>,
    },
    Array(Vec<GoValue<'t>>),
    /// A map: `None` is nil.
    Map(Option<BTreeMap<Cow<'t, str>, GoValue<'t>>>),
    /// A struct's stored fields, by slot ([`StructTy::slot_of`]).
    Struct(Vec<GoValue<'t>>),
    /// Nothing kept (see [`Ty::Raw`]).
    Raw,
}

impl<'t> GoValue<'t> {
    /// Go's zero value of `ty`, storing the fields `keep` says.
    pub(crate) fn zero_keeping(ty: &Ty, keep: Keep) -> GoValue<'t> {
        match ty {
            Ty::Bool => GoValue::Bool(false),
            Ty::Int(_) => GoValue::Int(0),
            Ty::Uint(_) => GoValue::Uint(0),
            Ty::Str => GoValue::Str(Cow::Borrowed("")),
            Ty::Ptr(_) => GoValue::Ptr(None),
            Ty::Slice(_) | Ty::StrSlice => GoValue::nil_slice(),
            Ty::Array(n, elem) => {
                GoValue::Array((0..*n).map(|_| GoValue::zero_keeping(elem, keep)).collect())
            }
            Ty::Map(_) => GoValue::Map(None),
            Ty::Struct(st) => GoValue::Struct(
                st.layout_for(keep)
                    .stored
                    .iter()
                    .map(|ty| GoValue::zero_keeping(ty, keep))
                    .collect(),
            ),
            Ty::Raw => GoValue::Raw,
        }
    }

    fn nil_slice() -> GoValue<'t> {
        GoValue::Slice {
            nil: true,
            len: 0,
            backing: Vec::new(),
        }
    }
}

/// `json.NewDecoder(body).Decode(&v)` for a zero `v` of type `ty`: the value Go ends up with
/// (its stored fields), or why dockerd refuses the body.
///
/// Go checks the syntax of the whole value first, keeps decoding after a type mismatch and
/// reports the first one at the end, and stops at once on an error from a custom
/// `UnmarshalJSON`. This one pass reads on after either kind of type error, so that a later
/// syntax error still wins, and then reports the custom error ahead of a mismatch.
pub(crate) fn decode<'t>(
    body: &'t [u8],
    ty: &'static Ty,
    trailing: Trailing,
) -> Result<GoValue<'t>, BodyError> {
    decode_keeping(body, ty, trailing, Keep::Read)
}

/// [`decode`], storing the fields `keep` says.
pub(crate) fn decode_keeping<'t>(
    body: &'t [u8],
    ty: &'static Ty,
    trailing: Trailing,
    keep: Keep,
) -> Result<GoValue<'t>, BodyError> {
    let mut value = GoValue::zero_keeping(ty, keep);
    let mut decoder = Decoder {
        reader: Reader::new(body),
        first_error: None,
        unmarshaler_error: None,
        path: Vec::new(),
        keep,
    };
    decoder
        .document(ty, &mut value, trailing)
        .map_err(|failure| *failure)?;
    match decoder.unmarshaler_error.or(decoder.first_error) {
        Some(err) => Err(err),
        None => Ok(value),
    }
}

struct Decoder<'t> {
    reader: Reader<'t>,
    /// The first type mismatch (Go's `saveError`).
    first_error: Option<BodyError>,
    /// The first error of a custom `UnmarshalJSON`, where Go stops decoding.
    unmarshaler_error: Option<BodyError>,
    /// Field names from the root, for error messages.
    path: Vec<&'static str>,
    /// Which fields are stored.
    keep: Keep,
}

impl<'t> Decoder<'t> {
    fn wrong_type(&self, expected: &'static str) -> BodyError {
        BodyError::WrongType {
            field: self.path.join("."),
            expected,
        }
    }

    fn save_type_error(&mut self, expected: &'static str) {
        if self.first_error.is_none() {
            self.first_error = Some(self.wrong_type(expected));
        }
    }

    /// The whole body: one value and what may follow it.
    fn document(
        &mut self,
        ty: &'static Ty,
        value: &mut GoValue<'t>,
        trailing: Trailing,
    ) -> Result<(), Failure> {
        self.reader.start()?;
        self.value(ty, Some(value))?;
        self.reader.finish(trailing)
    }

    /// Decodes the value at the cursor as Go would into `v`, a value of `ty`; without `v`
    /// the value is only type-checked.
    fn value(&mut self, ty: &'static Ty, v: Option<&mut GoValue<'t>>) -> Result<(), Failure> {
        let first = self.reader.value_start()?;
        match ty {
            Ty::Raw => return self.reader.skip_value(),
            Ty::StrSlice => return self.str_slice(v, first),
            // Go's `indirect`: a null stops at the pointer (and sets it to nil); anything else
            // allocates a nil pointer and decodes into what it points at (merging into an
            // existing pointee).
            Ty::Ptr(inner) => {
                if first == b'n' {
                    self.reader.literal()?;
                    if let Some(v) = v {
                        *v = GoValue::Ptr(None);
                    }
                    return Ok(());
                }
                let pointee = v.and_then(|v| {
                    if !matches!(v, GoValue::Ptr(Some(_))) {
                        *v = GoValue::Ptr(Some(Box::new(GoValue::zero_keeping(inner, self.keep))));
                    }
                    match v {
                        GoValue::Ptr(Some(pointee)) => Some(&mut **pointee),
                        _ => None,
                    }
                });
                return self.value(inner, pointee);
            }
            _ => {}
        }
        match first {
            b'n' => {
                self.reader.literal()?;
                match (ty, v) {
                    (Ty::Slice(_), Some(v)) => *v = GoValue::nil_slice(),
                    (Ty::Map(_), Some(v)) => *v = GoValue::Map(None),
                    // bool, numbers, strings, structs and arrays keep their value.
                    _ => {}
                }
            }
            b't' | b'f' => {
                let literal = self.reader.literal()?;
                match (ty, v) {
                    (Ty::Bool, Some(v)) => *v = GoValue::Bool(literal == Literal::True),
                    (Ty::Bool, None) => {}
                    _ => self.save_type_error(expected_name(ty)),
                }
            }
            b'"' => {
                let s = self.reader.string()?;
                match (ty, v) {
                    (Ty::Str, Some(v)) => *v = GoValue::Str(s),
                    (Ty::Str, None) => {}
                    _ => self.save_type_error(expected_name(ty)),
                }
            }
            b'-' | b'0'..=b'9' => {
                let text = self.reader.number()?;
                // No value is built for a number that is only type-checked.
                let fits = match (ty, v) {
                    (Ty::Int(bits), Some(v)) => {
                        parse_go_int(text, *bits).map(|n| *v = GoValue::Int(n))
                    }
                    (Ty::Int(bits), None) => parse_go_int(text, *bits).map(drop),
                    (Ty::Uint(bits), Some(v)) => {
                        parse_go_uint(text, *bits).map(|n| *v = GoValue::Uint(n))
                    }
                    (Ty::Uint(bits), None) => parse_go_uint(text, *bits).map(drop),
                    _ => None,
                };
                if fits.is_none() {
                    self.save_type_error(expected_name(ty));
                }
            }
            b'[' => match ty {
                Ty::Slice(elem) => self.slice(elem, v)?,
                Ty::Array(n, elem) => self.array(*n, elem, v)?,
                _ => {
                    self.save_type_error(expected_name(ty));
                    self.reader.skip_value()?;
                }
            },
            b'{' => match ty {
                Ty::Struct(st) => self.object_struct(st, v)?,
                Ty::Map(elem) => self.object_map(elem, v)?,
                _ => {
                    self.save_type_error(expected_name(ty));
                    self.reader.skip_value()?;
                }
            },
            _ => return Err(self.reader.invalid_value_start()),
        }
        Ok(())
    }

    /// Go's `array()` into a slice: elements decode into the existing backing array (stale
    /// elements beyond the old length included) and it grows by half, at least to 4.
    fn slice(&mut self, elem: &'static Ty, v: Option<&mut GoValue<'t>>) -> Result<(), Failure> {
        let mut target = v.map(|v| {
            if !matches!(v, GoValue::Slice { .. }) {
                *v = GoValue::nil_slice();
            }
            v
        });
        let mut count = 0;
        let mut more = self.reader.enter_array()?;
        while more {
            let slot = match target.as_deref_mut() {
                Some(GoValue::Slice { nil, len, backing }) => {
                    if count >= backing.len() {
                        let cap = backing.len();
                        let new_cap = (cap + cap / 2).max(4);
                        backing.truncate(*len);
                        backing.resize_with(new_cap, || GoValue::zero_keeping(elem, self.keep));
                        *nil = false;
                    }
                    if count >= *len {
                        *len = count + 1;
                    }
                    Some(&mut backing[count])
                }
                _ => None,
            };
            self.value(elem, slot)?;
            count += 1;
            more = self.reader.next_element()?;
        }
        match target {
            Some(v) if count == 0 => {
                *v = GoValue::Slice {
                    nil: false,
                    len: 0,
                    backing: Vec::new(),
                }
            }
            Some(GoValue::Slice { len, .. }) if count < *len => *len = count,
            _ => {}
        }
        Ok(())
    }

    /// Go's `array()` into a fixed array of `n`: extra elements are skipped unchecked,
    /// missing ones zeroed.
    fn array(
        &mut self,
        n: usize,
        elem: &'static Ty,
        mut v: Option<&mut GoValue<'t>>,
    ) -> Result<(), Failure> {
        let mut count = 0;
        let mut more = self.reader.enter_array()?;
        while more {
            if count < n {
                let slot = match v.as_deref_mut() {
                    Some(GoValue::Array(items)) => items.get_mut(count),
                    _ => None,
                };
                self.value(elem, slot)?;
            } else {
                self.reader.skip_value()?;
            }
            count += 1;
            more = self.reader.next_element()?;
        }
        if let Some(GoValue::Array(items)) = v {
            for item in items.iter_mut().skip(count) {
                *item = GoValue::zero_keeping(elem, self.keep);
            }
        }
        Ok(())
    }

    /// `strslice.StrSlice.UnmarshalJSON`: a fresh `[]string` (capacity 1), else one string.
    fn str_slice(&mut self, v: Option<&mut GoValue<'t>>, first: u8) -> Result<(), Failure> {
        static STRING: Ty = Ty::Str;
        const EXPECTED: &str = "a string or a list of strings";
        match first {
            b'n' => {
                self.reader.literal()?;
                if let Some(v) = v {
                    *v = GoValue::nil_slice();
                }
            }
            b'"' => {
                let s = self.reader.string()?;
                if let Some(v) = v {
                    *v = GoValue::Slice {
                        nil: false,
                        len: 1,
                        backing: vec![GoValue::Str(s)],
                    };
                }
            }
            b'[' => {
                let mut fresh = v.is_some().then(|| GoValue::Slice {
                    nil: false,
                    len: 0,
                    backing: vec![GoValue::Str(Cow::Borrowed(""))],
                });
                // Its own `json.Unmarshal`: a mismatch inside is this call's error alone.
                let outer_error = self.first_error.take();
                self.slice(&STRING, fresh.as_mut())?;
                let failed = self.first_error.is_some();
                self.first_error = outer_error;
                if failed {
                    // The fallback (one string) cannot read an array either.
                    self.unmarshaler_failed(EXPECTED);
                } else if let (Some(v), Some(fresh)) = (v, fresh) {
                    *v = fresh;
                }
            }
            _ => {
                self.unmarshaler_failed(EXPECTED);
                self.reader.skip_value()?;
            }
        }
        Ok(())
    }

    fn unmarshaler_failed(&mut self, expected: &'static str) {
        if self.unmarshaler_error.is_none() {
            self.unmarshaler_error = Some(self.wrong_type(expected));
        }
    }

    /// Go's `object()` into a struct: exact name first, else the first field whose name
    /// folds to the key; repeated keys decode again into the same field (merging).
    fn object_struct(
        &mut self,
        st: &'static StructTy,
        mut v: Option<&mut GoValue<'t>>,
    ) -> Result<(), Failure> {
        let flat = &st.layout_for(self.keep).flat;
        let mut next = 0;
        let mut more = self.reader.enter_object()?;
        while more {
            // Clients write a struct's fields in declaration order: the key is most often
            // spelt exactly as the field after the previous one, which is then Go's choice
            // whatever else the struct declares, and is read without unquoting.
            let member = match flat.get(next) {
                Some(field) if self.reader.exact_key(field.name.as_bytes())? => {
                    next += 1;
                    Some(field)
                }
                _ => {
                    let key = self.reader.key()?;
                    st.member(&key, &mut next, self.keep)
                }
            };
            match member {
                // Unknown keys are ignored (their syntax is still checked).
                None => self.reader.skip_value()?,
                Some(field) => {
                    // Walking to an unread field only matters when it allocates a pointer.
                    let slot = v
                        .as_deref_mut()
                        .filter(|_| field.read || field.through_pointer)
                        .and_then(|v| walk_to_field(st, v, field, self.keep));
                    self.path.push(field.name);
                    let result = self.value(field.ty, slot);
                    self.path.pop();
                    result?;
                }
            }
            more = self.reader.next_member()?;
        }
        Ok(())
    }

    /// Go's `object()` into a map: a nil map is made; each key gets a freshly zeroed element
    /// (map values never merge) and the last duplicate wins.
    fn object_map(
        &mut self,
        elem: &'static Ty,
        v: Option<&mut GoValue<'t>>,
    ) -> Result<(), Failure> {
        let mut map = v.and_then(|v| {
            if !matches!(v, GoValue::Map(Some(_))) {
                *v = GoValue::Map(Some(BTreeMap::new()));
            }
            match v {
                GoValue::Map(Some(map)) => Some(map),
                _ => None,
            }
        });
        let mut more = self.reader.enter_object()?;
        while more {
            let key = self.reader.key()?;
            self.path.push("<map value>");
            let result = match map.as_deref_mut() {
                // Only the key is kept when the element stores nothing (`Volumes` and
                // `EndpointsConfig` of a create body, whose keys alone the model reads).
                Some(map) if elem.stores_nothing(self.keep) => {
                    let result = self.value(elem, None);
                    map.insert(key, GoValue::Raw);
                    result
                }
                Some(map) => {
                    let mut element = GoValue::zero_keeping(elem, self.keep);
                    let result = self.value(elem, Some(&mut element));
                    map.insert(key, element);
                    result
                }
                None => self.value(elem, None),
            };
            self.path.pop();
            result?;
            more = self.reader.next_member()?;
        }
        Ok(())
    }
}

/// Follows a promoted field's index path to its slot, allocating nil embedded pointers on
/// the way (as Go does before it even looks at the value, `null` included); `None` for a
/// field that is not stored.
fn walk_to_field<'v, 't>(
    st: &'static StructTy,
    v: &'v mut GoValue<'t>,
    field: &FlatField,
    keep: Keep,
) -> Option<&'v mut GoValue<'t>> {
    let mut current = v;
    let mut current_ty = st;
    let (_, through) = field.path.split_last()?;
    for (&index, &slot) in through.iter().zip(&field.slots) {
        let GoValue::Struct(fields) = current else {
            return None;
        };
        let slot = fields.get_mut(slot)?;
        let inner = match &current_ty.fields[index].ty {
            Ty::Struct(s) => {
                current = slot;
                *s
            }
            Ty::Ptr(Ty::Struct(s)) => {
                if !matches!(slot, GoValue::Ptr(Some(_))) {
                    *slot =
                        GoValue::Ptr(Some(Box::new(GoValue::zero_keeping(&Ty::Struct(s), keep))));
                }
                let GoValue::Ptr(Some(pointee)) = slot else {
                    return None;
                };
                current = pointee;
                *s
            }
            _ => return None,
        };
        current_ty = inner;
    }
    match (current, field.slots.get(through.len())) {
        (GoValue::Struct(fields), Some(&slot)) => fields.get_mut(slot),
        _ => None,
    }
}

fn expected_name(ty: &Ty) -> &'static str {
    match ty {
        Ty::Bool => "a boolean",
        Ty::Int(_) => "an integer",
        Ty::Uint(_) => "an unsigned integer",
        Ty::Str => "a string",
        Ty::Slice(_) | Ty::Array(..) => "a list",
        Ty::Map(_) | Ty::Struct(_) => "an object",
        Ty::StrSlice => "a string or a list of strings",
        Ty::Ptr(inner) => expected_name(inner),
        Ty::Raw => "any value",
    }
}

/// `strconv.ParseInt(s, 10, 64)` plus the target's overflow check: no fraction, no exponent.
fn parse_go_int(text: &str, bits: u32) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    let n = match short_decimal(digits) {
        Some(magnitude) if negative => i64::try_from(-i128::from(magnitude)).ok()?,
        Some(magnitude) => i64::try_from(magnitude).ok()?,
        None => text.parse().ok()?,
    };
    let (min, max) = if bits >= 64 {
        (i64::MIN, i64::MAX)
    } else {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    };
    (min..=max).contains(&n).then_some(n)
}

/// `strconv.ParseUint(s, 10, 64)` plus the overflow check: no sign at all, not even `-0`.
fn parse_go_uint(text: &str, bits: u32) -> Option<u64> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = match short_decimal(text) {
        Some(n) => n,
        None => text.parse().ok()?,
    };
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    (n <= max).then_some(n)
}

/// The value of 1 to 19 ASCII digits, which always fits a `u64`: nearly every number in a
/// body, read without the general parser. `None` for anything else, which the callers hand
/// to `str::parse`.
fn short_decimal(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// Reading values out of a decoded struct by JSON field name.
impl<'t> GoValue<'t> {
    /// Follows a non-nil pointer; a non-pointer is returned as is.
    pub(crate) fn deref(&self) -> Option<&GoValue<'t>> {
        match self {
            GoValue::Ptr(Some(inner)) => Some(inner),
            GoValue::Ptr(None) => None,
            other => Some(other),
        }
    }

    pub(crate) fn as_str(&self) -> String {
        match self {
            GoValue::Str(s) => s.as_ref().to_owned(),
            _ => String::new(),
        }
    }

    pub(crate) fn as_bool(&self) -> bool {
        matches!(self, GoValue::Bool(true))
    }

    pub(crate) fn as_i64(&self) -> i64 {
        match self {
            GoValue::Int(n) => *n,
            _ => 0,
        }
    }

    /// The visible elements of a slice (empty for nil).
    pub(crate) fn elements(&self) -> &[GoValue<'t>] {
        match self {
            GoValue::Slice { len, backing, .. } => &backing[..*len],
            _ => &[],
        }
    }

    /// A slice of strings; `None` when the slice is nil.
    pub(crate) fn as_opt_strings(&self) -> Option<Vec<String>> {
        match self {
            GoValue::Slice { nil: true, .. } => None,
            _ => Some(self.as_strings()),
        }
    }

    pub(crate) fn as_strings(&self) -> Vec<String> {
        self.elements().iter().map(GoValue::as_str).collect()
    }

    /// A map's entries (empty for nil).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &GoValue<'t>)> {
        match self {
            GoValue::Map(Some(map)) => Some(map.iter().map(|(k, v)| (k.as_ref(), v))),
            _ => None,
        }
        .into_iter()
        .flatten()
    }

    pub(crate) fn as_string_map(&self) -> BTreeMap<String, String> {
        self.entries()
            .map(|(k, v)| (k.to_owned(), v.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_knows_kelvin_and_long_s_and_nothing_else() {
        assert!(go_fold_eq("Links", "LIN\u{212A}S"));
        assert!(go_fold_eq("Binds", "bind\u{17F}"));
        assert!(go_fold_eq("Privileged", "pRiViLeGeD"));
        assert!(!go_fold_eq("Privileged", "Privıleged")); // U+0131 does not fold to i
        assert!(!go_fold_eq("Cpuset", "Cpuset_"));
        assert!(!go_fold_eq("Dns", "D\u{212A}s"));
        assert!(!go_fold_eq("A1", "a!"));
    }

    #[test]
    fn folded_key_lookup_agrees_with_go_fold_rule() {
        let names = [
            "Links",
            "Binds",
            "Privileged",
            "Dns",
            "A1",
            "IPv4Address",
            "UTSMode",
        ];
        let keys = [
            "links",
            "LIN\u{212A}S",
            "bind\u{17F}",
            "pRiViLeGeD",
            "Privıleged",
            "D\u{212A}s",
            "DN\u{17F}",
            "a1",
            "a!",
            "ipv4address",
            "IPV4ADDRESS",
            "utsmode",
            "UTSMode_",
            "",
        ];
        for name in names {
            for key in keys {
                let mut buf = [0u8; MAX_FOLDED_KEY];
                let lower = name.to_ascii_lowercase();
                let by_table = fold_key(key, &mut buf) == Some(lower.as_bytes());
                assert_eq!(by_table, go_fold_eq(name, key), "{name} / {key}");
            }
        }
    }

    #[test]
    fn an_exact_name_wins_over_an_earlier_folded_one() {
        static TWO: StructTy =
            StructTy::new(&[Field::read("ab", Ty::Str), Field::read("AB", Ty::Str)]);
        assert_eq!(TWO.field_for_key("AB").unwrap().path, [1]);
        assert_eq!(TWO.field_for_key("ab").unwrap().path, [0]);
        assert_eq!(TWO.field_for_key("Ab").unwrap().path, [0]);
        assert!(TWO.field_for_key("Ac").is_none());
    }

    #[test]
    fn every_field_is_found_by_its_name_and_by_its_name_in_other_cases() {
        use super::super::schema::{CONTAINER_CONFIG_WRAPPER, SERVICE_SPEC};
        for st in [&CONTAINER_CONFIG_WRAPPER, &SERVICE_SPEC] {
            for field in st.flat_fields() {
                let found = |key: &str| st.field_for_key(key).map(|f| f.name);
                assert_eq!(found(field.name), Some(field.name));
                assert_eq!(found(&field.name.to_ascii_lowercase()), Some(field.name));
                assert_eq!(found(&field.name.to_ascii_uppercase()), Some(field.name));
                assert_eq!(found(&format!("{}_", field.name)), None);
            }
        }
    }

    #[test]
    fn byte_comparison_agrees_with_slice_equality() {
        let names = [
            "",
            "a",
            "Dns",
            "Image",
            "CgroupParent",
            "BlkioDeviceReadIOps",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_bytes(a.as_bytes(), b.as_bytes()), a == b);
                let mut changed = b.as_bytes().to_vec();
                for i in 0..changed.len() {
                    changed[i] ^= 1;
                    assert_eq!(same_bytes(a.as_bytes(), &changed), a.as_bytes() == changed);
                    changed[i] ^= 1;
                }
            }
        }
    }

    #[test]
    fn the_field_after_the_previous_one_is_taken_only_on_an_exact_name() {
        static TWO: StructTy =
            StructTy::new(&[Field::read("ab", Ty::Str), Field::read("AB", Ty::Str)]);
        let member =
            |key: &str, mut next: usize| TWO.member(key, &mut next, Keep::Read).map(|f| f.name);
        assert_eq!(member("AB", 0), Some("AB"));
        assert_eq!(member("ab", 1), Some("ab"));
        assert_eq!(member("Ab", 1), Some("ab"));
        assert_eq!(member("ab", 7), Some("ab"));
        let mut next = 0;
        assert!(TWO.member("ab", &mut next, Keep::Read).is_some());
        assert_eq!(next, 1);
        assert!(TWO.member("zz", &mut next, Keep::Read).is_none());
        assert_eq!(next, 1);
    }

    #[test]
    fn short_decimals_read_as_the_general_parser_reads_them() {
        for text in [
            "0",
            "7",
            "65535",
            "9999999999999999999",
            "18446744073709551615",
            "18446744073709551616",
            "1.5",
            "1e3",
            "",
        ] {
            let expected = (!text.is_empty() && text.len() <= 19)
                .then(|| text.parse::<u64>().ok())
                .flatten();
            assert_eq!(short_decimal(text), expected, "{text}");
        }
        assert_eq!(parse_go_int("-9223372036854775808", 64), Some(i64::MIN));
        assert_eq!(parse_go_int("9223372036854775807", 64), Some(i64::MAX));
        assert_eq!(parse_go_int("-9223372036854775809", 64), None);
        assert_eq!(parse_go_int("-32768", 16), Some(-32768));
        assert_eq!(parse_go_int("-32769", 16), None);
        assert_eq!(parse_go_uint("18446744073709551615", 64), Some(u64::MAX));
        assert_eq!(parse_go_uint("18446744073709551616", 64), None);
    }

    #[test]
    fn go_integer_rules_refuse_fractions_exponents_and_overflow() {
        assert_eq!(parse_go_int("-0", 64), Some(0));
        assert_eq!(parse_go_int("1.0", 64), None);
        assert_eq!(parse_go_int("1e3", 64), None);
        assert_eq!(parse_go_int("9223372036854775808", 64), None);
        assert_eq!(parse_go_int("32768", 16), None);
        assert_eq!(parse_go_uint("-0", 64), None);
        assert_eq!(parse_go_uint("65535", 16), Some(65535));
        assert_eq!(parse_go_uint("65536", 16), None);
    }
}
