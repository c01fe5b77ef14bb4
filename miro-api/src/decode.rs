//! Decoding response bodies: one rule for every generated type.
//!
//! Miro's live API does not always send what its spec documents: an id documented as a number
//! arrives as a string, a date is malformed, a number is out of range. By default such a
//! mismatch does not fail the whole response; the smallest part that can go is left out:
//!
//! - an **optional** field that does not match its type decodes as absent (`None`, or an empty
//!   list);
//! - a **list item** that does not decode (a required field of the wrong type or missing, say)
//!   is left out of its list alone: the list and its other items stay;
//! - a **required** field fails the object holding it, which then goes as a whole by the same
//!   rule (as an optional field or as a list item); with nothing above it that can go, the
//!   call fails with [`Error::Decode`](crate::Error::Decode), naming the path.
//!
//! Each thing left out is logged as a `tracing` warning and listed by
//! [`Response::decode_warnings`](crate::Response::decode_warnings) with its path, why, and the
//! raw JSON that was left out (a list item's warning also gives its index). The whole body
//! stays readable through [`Response::raw_json`](crate::Response::raw_json). Messages and log
//! lines quote at most a short prefix of a value ([`QUOTE_LIMIT`] characters); the warning's
//! `value` holds all of it.
//!
//! A key that appears twice in one object is a [`DecodeWarningKind::DuplicateKey`] warning
//! (the last value is used) when the body needed this tolerant reading; a body that decodes as
//! received is taken as serde takes it.
//!
//! At most [`MAX_DROPPED`] distinct fields of a body (counted by their schema path, so
//! `data[].style.x` counts once however many items lose it) are left out before decoding gives
//! up with [`Error::Decode`](crate::Error::Decode) naming the field that went over.
//!
//! [`MiroApiBuilder::strict_decoding`](crate::MiroApiBuilder::strict_decoding) turns the
//! tolerance off (for tests that must see every mismatch): a body then decodes exactly as
//! `serde_json::from_slice` decodes it, and anything else, a duplicate key included, is
//! [`Error::Decode`](crate::Error::Decode) with the body as received.
//!
//! The rule lives here, in the runtime, rather than in attributes on each generated field: a
//! body that decodes costs nothing extra, and the generated types compile as before. A body
//! that does not is read once into a JSON tree and decoded from it again, leaving out what
//! failed; items that decoded are not decoded again until the last pass, so the work grows
//! with the size of the body and of the items that fail, not with the page times the number
//! of failures.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Display, Write as _};

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde_json::Value;

pub use crate::runtime::with_page_size;
use crate::runtime::RAW_VALUE_TOKEN;

/// At most this many distinct fields (by schema path, list indexes left out) are dropped from
/// one body before decoding gives up.
pub const MAX_DROPPED: usize = 64;

/// The most characters of a value a warning's `message` (and its log line) quotes.
pub const QUOTE_LIMIT: usize = 200;

/// Something the tolerant decoding left out of a response, or a duplicate key it resolved.
/// See the [module docs](self) for the rule.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DecodeWarning {
    /// Where it is in the body, e.g. `data[3].picture.id` (`data[3]` for a list item).
    pub path: String,
    /// Why it did not decode, e.g. `invalid type: string "x", expected f64`. A value is quoted
    /// up to [`QUOTE_LIMIT`] characters.
    pub message: String,
    /// The value that was left out, whole, as received (for a duplicate key: an earlier value,
    /// the last one being used).
    pub value: Value,
    /// What was done.
    pub kind: DecodeWarningKind,
}

/// What the tolerant decoding did about a [`DecodeWarning`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeWarningKind {
    /// An optional field that did not match its type was decoded as absent.
    FieldAbsent,
    /// A list item that did not decode was left out of its list; the list and its other items
    /// were kept.
    ItemDropped {
        /// The item's index in the list as received.
        index: usize,
    },
    /// A key appeared more than once in one object: the last value was used, `value` is an
    /// earlier one.
    DuplicateKey,
}

impl fmt::Display for DecodeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeWarningKind::FieldAbsent => {
                write!(f, "{}: {} (decoded as absent)", self.path, self.message)
            }
            DecodeWarningKind::ItemDropped { .. } => {
                write!(
                    f,
                    "{}: {} (item left out of its list)",
                    self.path, self.message
                )
            }
            DecodeWarningKind::DuplicateKey => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Decodes a JSON body as `T` by the rule of the [module docs](self), as the client decodes
/// responses: tolerant unless `strict`. The warnings say what was left out (they are also
/// logged). This is for bodies that reach you another way (a webhook, a file).
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Page {
///     data: Vec<Item>,
/// }
/// #[derive(serde::Deserialize)]
/// struct Item {
///     id: String,
/// }
/// let body = br#"{"data": [{"id": "a"}, {"id": 7}, {"id": "c"}]}"#;
/// let (page, warnings) = miro_api::decode::from_slice::<Page>(body, false)?;
/// assert_eq!(page.data.len(), 2);
/// assert_eq!(warnings[0].path, "data[1]");
/// assert!(miro_api::decode::from_slice::<Page>(body, true).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn from_slice<T: DeserializeOwned>(
    bytes: &[u8],
    strict: bool,
) -> Result<(T, Vec<DecodeWarning>), serde_json::Error> {
    decode(bytes, strict).map_err(|failure| failure.into_error(bytes))
}

/// [`from_slice`] for JSON already parsed (a stored backup, a column of a database): the
/// same rule, the same warnings.
///
/// ```
/// use miro_api::types::Geometry;
/// let stored = serde_json::json!({"width": "wide", "height": 40.0});
/// let (geometry, warnings) = miro_api::decode::from_value::<Geometry>(&stored, false)?;
/// assert_eq!(geometry.width, None);
/// assert_eq!(geometry.height, Some(40.0));
/// assert_eq!(warnings[0].path, "width");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn from_value<T: DeserializeOwned>(
    value: &serde_json::Value,
    strict: bool,
) -> Result<(T, Vec<DecodeWarning>), serde_json::Error> {
    // The value's own text: a value has no duplicate keys left, so the bytes decode as it.
    from_slice(&serde_json::to_vec(value)?, strict)
}

/// One step of a path in a body.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A body that does not decode as its type.
#[derive(Debug)]
pub(crate) enum Failure {
    /// serde_json's own error, with its line and column: malformed JSON, or a duplicate key
    /// found while reading strictly.
    Json(serde_json::Error),
    /// A value at `path` (empty: the body itself) that does not decode, and why.
    At { path: Vec<Seg>, message: String },
}

impl Failure {
    /// The error, naming the path when there is one, with the line and column of that place
    /// in `bytes`: ``invalid type: integer `7`, expected a string (at `data[0].name`) at line 1
    /// column 9``.
    pub(crate) fn into_error(self, bytes: &[u8]) -> serde_json::Error {
        match self {
            Failure::Json(e) => e,
            Failure::At { path, message } => {
                let message = if path.is_empty() {
                    message
                } else {
                    format!("{message} (at `{}`)", path_string(&path))
                };
                locate(bytes, &path, &message)
            }
        }
    }
}

/// Decodes `bytes` as `T`. Strict: exactly as serde_json does, duplicate keys refused.
/// Tolerant: what does not decode is left out (see the module docs) and reported.
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    strict: bool,
) -> Result<(T, Vec<DecodeWarning>), Failure> {
    let first = match crate::runtime::from_json::<T>(bytes) {
        Ok(body) => {
            if strict {
                check_duplicates(bytes)?;
            }
            return Ok((body, Vec::new()));
        }
        Err(e) => e,
    };
    // Malformed or truncated JSON has nothing to leave out.
    if !first.is_data() {
        return Err(Failure::Json(first));
    }
    // Its message may quote a huge value: not kept.
    drop(first);
    if strict {
        return Err(strict_failure::<T>(bytes));
    }
    let (root, duplicates) = read_tree(bytes).map_err(Failure::Json)?;
    let (body, warnings) = Repair::new(&root).run::<T>(duplicates)?;
    for w in &warnings {
        tracing::warn!(
            path = %w.path,
            error = %w.message,
            kind = ?w.kind,
            type_name = std::any::type_name::<T>(),
            "a response value does not match its documented type; left out"
        );
    }
    Ok((body, warnings))
}

/// The failure of a strict decode, with the path serde reached.
fn strict_failure<T: DeserializeOwned>(bytes: &[u8]) -> Failure {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => Failure::At {
            path: Vec::new(),
            message: "the body does not decode".into(),
        },
        Err(e) => {
            let mut path = Vec::new();
            for segment in e.path().iter() {
                match segment {
                    serde_path_to_error::Segment::Seq { index } => path.push(Seg::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => path.push(Seg::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { variant } => {
                        path.push(Seg::Key(variant.clone()))
                    }
                    serde_path_to_error::Segment::Unknown => break,
                }
            }
            let inner = e.into_inner();
            let message = without_position(&inner);
            if path.is_empty() && message.chars().count() <= 4 * QUOTE_LIMIT {
                // serde's own error, at its place.
                return Failure::Json(inner);
            }
            // Named by its path, at the place of that path, its quote cut short.
            Failure::At {
                path,
                message: bounded(&message),
            }
        }
    }
}

/// serde_json's message without its " at line L column C".
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(message) if e.line() != 0 => message.to_string(),
        _ => text,
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded messages.

/// A writer that keeps the first `left` characters.
struct Bounded {
    out: String,
    left: usize,
    cut: bool,
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Ok(());
        }
        if s.len() <= self.left {
            // At most as many characters as bytes.
            self.out.push_str(s);
            self.left -= s.chars().count();
            return Ok(());
        }
        for c in s.chars() {
            if self.left == 0 {
                self.cut = true;
                return Ok(());
            }
            self.out.push(c);
            self.left -= 1;
        }
        Ok(())
    }
}

/// `msg` cut to a few times [`QUOTE_LIMIT`] characters (a message quotes at most one value).
fn bounded(msg: impl Display) -> String {
    let mut w = Bounded {
        out: String::new(),
        left: 4 * QUOTE_LIMIT,
        cut: false,
    };
    let _ = write!(w, "{msg}");
    if w.cut {
        w.out.push('…');
    }
    w.out
}

/// An unexpected value as serde shows it, quoting at most [`QUOTE_LIMIT`] characters of a
/// string.
struct Quoted<'a>(Unexpected<'a>);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Unexpected::Str(s) if s.chars().nth(QUOTE_LIMIT).is_some() => {
                let end = s
                    .char_indices()
                    .nth(QUOTE_LIMIT)
                    .map_or(s.len(), |(i, _)| i);
                write!(f, "string {:?}… ({} bytes)", &s[..end], s.len())
            }
            Unexpected::Bytes(b) if b.len() > QUOTE_LIMIT => {
                write!(f, "{} bytes", b.len())
            }
            other => Display::fmt(&other, f),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the tree, noting duplicate keys.

/// A node that every pass reads.
const VISIBLE: u8 = 0;
/// A list item that decoded in an earlier pass: passed over until the last pass.
const HIDDEN: u8 = 1;
/// Left out.
const DROPPED: u8 = 2;

/// The body as a tree, its strings borrowed from the body where they have no escapes. Each
/// node says whether passes read it; the tree does not change otherwise, so a node's address
/// names it.
struct Node<'b> {
    state: Cell<u8>,
    /// How many nodes inside it are left out.
    dropped_inside: Cell<u32>,
    /// For a list: how many of its first items are passed over, as of an epoch of the passes
    /// (items become visible again only when a new epoch starts).
    lead: Cell<(u32, u32)>,
    kind: Kind<'b>,
}

enum Kind<'b> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'b, str>),
    List(Vec<Node<'b>>),
    /// Entries in the body's order; of a duplicate key only the last is kept.
    Object(Vec<(Cow<'b, str>, Node<'b>)>),
}

impl<'b> Node<'b> {
    fn new(kind: Kind<'b>) -> Self {
        Node {
            state: Cell::new(VISIBLE),
            dropped_inside: Cell::new(0),
            lead: Cell::new((0, 0)),
            kind,
        }
    }

    /// Whether passes go past it (left out, or decoded before).
    fn passed_over(&self) -> bool {
        self.state.get() != VISIBLE
    }

    /// The node as received, as a JSON value.
    fn to_value(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::U64(n) => Value::from(*n),
            Kind::I64(n) => Value::from(*n),
            Kind::F64(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.as_ref().to_owned()),
            Kind::List(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Kind::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_ref().to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// The nodes from this one down to the one at `path`, both included.
    fn line_to(&self, path: &[Seg]) -> Option<Vec<&Node<'b>>> {
        let mut line = Vec::with_capacity(path.len() + 1);
        line.push(self);
        let mut node = self;
        for seg in path {
            node = match (&node.kind, seg) {
                (Kind::Object(entries), Seg::Key(k)) => {
                    entries.iter().find(|(key, _)| key == k).map(|(_, v)| v)?
                }
                (Kind::List(items), Seg::Index(i)) => items.get(*i)?,
                _ => return None,
            };
            line.push(node);
        }
        Some(line)
    }
}

/// A key seen twice: where, and the value the later one replaced.
struct Duplicate {
    path: Vec<Seg>,
    earlier: Value,
}

/// The path to a node while it is read or decoded, kept on the stack.
#[derive(Clone, Copy)]
enum Chain<'a> {
    Root,
    Key(&'a Chain<'a>, &'a str),
    Index(&'a Chain<'a>, usize),
}

impl Chain<'_> {
    fn segs(&self) -> Vec<Seg> {
        let mut out = Vec::new();
        let mut at = self;
        loop {
            match at {
                Chain::Root => break,
                Chain::Key(parent, key) => {
                    out.push(Seg::Key((*key).to_string()));
                    at = parent;
                }
                Chain::Index(parent, index) => {
                    out.push(Seg::Index(*index));
                    at = parent;
                }
            }
        }
        out.reverse();
        out
    }
}

/// The body as a tree, and the duplicate keys met (the last value of a key is kept).
fn read_tree(bytes: &[u8]) -> Result<(Node<'_>, Vec<Duplicate>), serde_json::Error> {
    let scratch = Scratch {
        entries: RefCell::new(Vec::new()),
        items: RefCell::new(Vec::new()),
        duplicates: RefCell::new(Vec::new()),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let root = Build {
        chain: &Chain::Root,
        scratch: &scratch,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((root, scratch.duplicates.into_inner()))
}

/// A string, borrowed from the body when it can be.
struct CowStr;

impl<'de> DeserializeSeed<'de> for CowStr {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for CowStr {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The entries and items of the objects and lists being read, one stack for all (each
/// object or list then takes its own in one allocation), and the duplicate keys met.
struct Scratch<'b> {
    entries: RefCell<Vec<(Cow<'b, str>, Node<'b>)>>,
    items: RefCell<Vec<Node<'b>>>,
    duplicates: RefCell<Vec<Duplicate>>,
}

/// Builds a [`Node`], noting duplicate keys.
struct Build<'a, 'b> {
    chain: &'a Chain<'a>,
    scratch: &'a Scratch<'b>,
}

impl<'b> DeserializeSeed<'b> for Build<'_, 'b> {
    type Value = Node<'b>;
    fn deserialize<D: Deserializer<'b>>(self, d: D) -> Result<Node<'b>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'b> Visitor<'b> for Build<'_, 'b> {
    type Value = Node<'b>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node<'b>, E> {
        Ok(Node::new(Kind::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node<'b>, E> {
        Ok(Node::new(Kind::I64(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node<'b>, E> {
        Ok(Node::new(Kind::U64(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node<'b>, E> {
        Ok(Node::new(Kind::F64(v)))
    }
    fn visit_borrowed_str<E>(self, v: &'b str) -> Result<Node<'b>, E> {
        Ok(Node::new(Kind::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node<'b>, E> {
        Ok(Node::new(Kind::Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Node<'b>, E> {
        Ok(Node::new(Kind::Str(Cow::Owned(v))))
    }
    fn visit_unit<E>(self) -> Result<Node<'b>, E> {
        Ok(Node::new(Kind::Null))
    }
    fn visit_none<E>(self) -> Result<Node<'b>, E> {
        Ok(Node::new(Kind::Null))
    }
    fn visit_some<D: Deserializer<'b>>(self, d: D) -> Result<Node<'b>, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'b>>(self, mut seq: A) -> Result<Node<'b>, A::Error> {
        let start = self.scratch.items.borrow().len();
        let mut index = 0;
        loop {
            let link = Chain::Index(self.chain, index);
            let seed = Build {
                chain: &link,
                scratch: self.scratch,
            };
            match seq.next_element_seed(seed) {
                Ok(Some(v)) => self.scratch.items.borrow_mut().push(v),
                Ok(None) => break,
                Err(e) => {
                    self.scratch.items.borrow_mut().truncate(start);
                    return Err(e);
                }
            }
            index += 1;
        }
        let items: Vec<Node<'b>> = self.scratch.items.borrow_mut().drain(start..).collect();
        Ok(Node::new(Kind::List(items)))
    }
    fn visit_map<A: MapAccess<'b>>(self, mut map: A) -> Result<Node<'b>, A::Error> {
        let start = self.scratch.entries.borrow().len();
        // A few keys are compared one by one; a larger object keeps a set of them.
        let mut keys: Option<HashSet<Cow<'b, str>>> = None;
        let result = loop {
            let key = match map.next_key_seed(CowStr) {
                Ok(Some(key)) => key,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            let value = {
                let link = Chain::Key(self.chain, &key);
                map.next_value_seed(Build {
                    chain: &link,
                    scratch: self.scratch,
                })
            };
            let value = match value {
                Ok(value) => value,
                Err(e) => break Err(e),
            };
            let mut entries = self.scratch.entries.borrow_mut();
            let earlier = match &mut keys {
                Some(set) => {
                    if set.insert(key.clone()) {
                        None
                    } else {
                        entries[start..].iter().position(|(k, _)| *k == key)
                    }
                }
                None => {
                    let object = &entries[start..];
                    let earlier = object.iter().position(|(k, _)| *k == key);
                    if object.len() >= 16 {
                        let mut set: HashSet<_> = object.iter().map(|(k, _)| k.clone()).collect();
                        set.insert(key.clone());
                        keys = Some(set);
                    }
                    earlier
                }
            };
            if let Some(i) = earlier {
                let (_, earlier) = entries.remove(start + i);
                let mut path = self.chain.segs();
                path.push(Seg::Key(key.to_string()));
                self.scratch.duplicates.borrow_mut().push(Duplicate {
                    path,
                    earlier: earlier.to_value(),
                });
            }
            entries.push((key, value));
        };
        let mut entries = self.scratch.entries.borrow_mut();
        if let Err(e) = result {
            entries.truncate(start);
            return Err(e);
        }
        let object: Vec<_> = entries.drain(start..).collect();
        Ok(Node::new(Kind::Object(object)))
    }
}

/// Fails with serde_json's error, at the place in the body, on the first duplicate key.
fn check_duplicates(bytes: &[u8]) -> Result<(), Failure> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Scan {
        chain: &Chain::Root,
    }
    .deserialize(&mut de)
    .map_err(Failure::Json)
}

/// Reads a body without keeping it, refusing duplicate keys.
struct Scan<'a> {
    chain: &'a Chain<'a>,
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let link = Chain::Index(self.chain, index);
            if seq.next_element_seed(Scan { chain: &link })?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // A few keys are compared in a list; more go in a set.
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(CowStr)? {
            let seen = if many.is_empty() && few.len() < 16 {
                few.contains(&key)
            } else {
                if many.is_empty() {
                    many.extend(few.drain(..));
                }
                many.contains(&key)
            };
            if seen {
                let mut path = self.chain.segs();
                path.push(Seg::Key(key.to_string()));
                return Err(de::Error::custom(format_args!(
                    "duplicate key (at `{}`)",
                    path_string(&path)
                )));
            }
            {
                let link = Chain::Key(self.chain, &key);
                map.next_value_seed(Scan { chain: &link })?;
            }
            if many.is_empty() && few.len() < 16 {
                few.push(key);
            } else {
                many.insert(key);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Locating a path in the body, for an error's line and column.

/// serde_json's error with `message`, at the place of `path` in `bytes` (its end for an
/// object or a list), so that `line()` and `column()` point there.
fn locate(bytes: &[u8], path: &[Seg], message: &str) -> serde_json::Error {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match (Locate { path, message }).deserialize(&mut de) {
        Err(e) => e,
        // Locate always fails; should it not, the message stands alone.
        Ok(()) => de::Error::custom(message),
    }
}

struct Locate<'p> {
    path: &'p [Seg],
    message: &'p str,
}

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Locate<'_> {
    fn fail<E: de::Error>(&self) -> Result<(), E> {
        Err(E::custom(self.message))
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.fail()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.fail()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.fail()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.fail()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.fail()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.fail()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.fail()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let want = match self.path.first() {
            Some(Seg::Index(i)) => Some(*i),
            _ => None,
        };
        let mut index = 0;
        loop {
            if want == Some(index) {
                let inner = Locate {
                    path: &self.path[1..],
                    message: self.message,
                };
                seq.next_element_seed(inner)?;
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                return self.fail();
            }
            index += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let want = match self.path.first() {
            Some(Seg::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        while let Some(key) = map.next_key_seed(CowStr)? {
            if want == Some(key.as_ref()) {
                map.next_value_seed(Locate {
                    path: &self.path[1..],
                    message: self.message,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        self.fail()
    }
}

// ---------------------------------------------------------------------------------------------
// The tolerant decoding: decode from the tree, leaving out what fails.

/// What one pass over the tree notes: the list items that decoded.
struct Pass<'t> {
    /// Items passed over stay so within an epoch; [`Node::lead`] counts on it.
    epoch: u32,
    /// Whether to note them.
    note: bool,
    /// Whether the pass is expected to decode everything: lists tell their length (for the
    /// capacity of a `Vec`). Other passes end at a failure, usually soon.
    whole: bool,
    decoded: RefCell<Vec<&'t Node<'t>>>,
}

/// A value left out (its path is its key in [`Repair::drops`]).
struct Dropped<'t> {
    /// The nodes from the root down to it.
    line: Vec<&'t Node<'t>>,
    schema: String,
    /// The mismatch that led here: its path and message.
    origin: (Vec<Seg>, String),
    /// When it was left out, for the order of the warnings.
    order: usize,
}

/// The state of the tolerant decoding of one body.
struct Repair<'t> {
    root: &'t Node<'t>,
    /// Items passed over until the last pass.
    hidden: Vec<&'t Node<'t>>,
    /// By path: what is inside a value is next to it.
    drops: BTreeMap<Vec<Seg>, Dropped<'t>>,
    dropped_so_far: usize,
    /// How many drops each schema path has.
    schemas: HashMap<String, usize>,
    /// Whether list items that decoded are passed over until the last pass.
    hiding: bool,
    /// Starts again when hidden items become visible (values left out and put back are inside
    /// one left out, or the body fails).
    epoch: u32,
}

impl<'t> Repair<'t> {
    fn new(root: &'t Node<'t>) -> Self {
        Repair {
            root,
            hidden: Vec::new(),
            drops: BTreeMap::new(),
            dropped_so_far: 0,
            schemas: HashMap::new(),
            hiding: true,
            epoch: 1,
        }
    }

    fn run<T: DeserializeOwned>(
        mut self,
        duplicates: Vec<Duplicate>,
    ) -> Result<(T, Vec<DecodeWarning>), Failure> {
        let mut checking = false;
        loop {
            let pass = Pass {
                epoch: self.epoch,
                note: self.hiding,
                whole: checking || !self.hiding,
                decoded: RefCell::new(Vec::new()),
            };
            let root = Walk {
                v: self.root,
                chain: &Chain::Root,
                pass: &pass,
            };
            let result = T::deserialize(root).map_err(|e| e.at(&Chain::Root));
            let decoded = pass.decoded.into_inner();
            match result {
                Ok(body) if self.hidden.is_empty() => {
                    return Ok((body, self.warnings(duplicates)));
                }
                Ok(_) => {
                    // Everything left decoded: once more with every item, for the body itself.
                    for node in self.hidden.drain(..) {
                        if node.state.get() == HIDDEN {
                            node.state.set(VISIBLE);
                        }
                    }
                    self.epoch += 1;
                    checking = true;
                }
                Err(e) => {
                    if checking {
                        // Items that decoded alone do not with the others (a type that reads
                        // a list as a whole): no more passing over.
                        self.hiding = false;
                        checking = false;
                    }
                    if self.hiding {
                        for node in decoded {
                            if node.state.get() == VISIBLE {
                                node.state.set(HIDDEN);
                                self.hidden.push(node);
                            }
                        }
                    }
                    self.leave_out(e)?;
                }
            }
        }
    }

    /// Leaves out the value that failed (or, for a required field, its holder).
    fn leave_out(&mut self, e: DeError) -> Result<(), Failure> {
        let at = e.path.unwrap_or_default();
        let mut origin = (at.clone(), e.message);
        if let Some(field) = e.missing {
            // A required field is absent: if we left it out, it was required after all, so the
            // object holding it is the mismatch. Put the field back; the object goes instead.
            let mut child = at.clone();
            child.push(Seg::Key(field.to_string()));
            if let Some(put_back) = self.drops.remove(&child) {
                self.forget(&put_back);
                origin = put_back.origin;
            }
        }
        let failure = |origin: (Vec<Seg>, String)| Failure::At {
            path: origin.0,
            message: origin.1,
        };
        if at.is_empty() {
            return Err(failure(origin));
        }
        let Some(line) = self.root.line_to(&at) else {
            return Err(failure(origin));
        };
        let node = line[line.len() - 1];
        if node.state.get() == DROPPED {
            // Cannot happen (a value left out is not read again); never loop on it.
            return Err(failure(origin));
        }
        // What was left out inside it goes with it: its warning shows it whole.
        if node.dropped_inside.get() > 0 {
            let inside: Vec<Vec<Seg>> = self
                .drops
                .range(at.clone()..)
                .take_while(|(path, _)| path.starts_with(&at))
                .map(|(path, _)| path.clone())
                .collect();
            for path in inside {
                if let Some(d) = self.drops.remove(&path) {
                    self.forget(&d);
                }
            }
        }
        let schema = schema_path(&at);
        let count = self.schemas.entry(schema.clone()).or_insert(0);
        *count += 1;
        if *count == 1 && self.schemas.len() > MAX_DROPPED {
            let (path, message) = origin;
            return Err(Failure::At {
                path,
                message: format!(
                    "{message}; more than {MAX_DROPPED} fields of this body do not match their \
                     documented types"
                ),
            });
        }
        node.state.set(DROPPED);
        for above in &line[..line.len() - 1] {
            above.dropped_inside.set(above.dropped_inside.get() + 1);
        }
        self.dropped_so_far += 1;
        self.drops.insert(
            at,
            Dropped {
                line,
                schema,
                origin,
                order: self.dropped_so_far,
            },
        );
        Ok(())
    }

    fn forget(&mut self, d: &Dropped<'t>) {
        let (node, above) = d.line.split_last().expect("a line ends at its node");
        node.state.set(VISIBLE);
        for n in above {
            n.dropped_inside.set(n.dropped_inside.get() - 1);
        }
        if let Some(count) = self.schemas.get_mut(&d.schema) {
            *count -= 1;
            if *count == 0 {
                self.schemas.remove(&d.schema);
            }
        }
    }

    /// The warnings, each with the value it left out.
    fn warnings(self, duplicates: Vec<Duplicate>) -> Vec<DecodeWarning> {
        let mut out = Vec::with_capacity(duplicates.len() + self.drops.len());
        for d in duplicates {
            out.push(DecodeWarning {
                path: path_string(&d.path),
                message: "duplicate key: the last value is used (`value` is an earlier one)".into(),
                value: d.earlier,
                kind: DecodeWarningKind::DuplicateKey,
            });
        }
        let mut drops: Vec<_> = self.drops.into_iter().collect();
        drops.sort_by_key(|(_, d)| d.order);
        for (path, d) in drops {
            let (origin, message) = d.origin;
            let message = if origin == path {
                message
            } else {
                format!("{message} (at `{}`)", path_string(&origin))
            };
            let kind = match path.last() {
                Some(Seg::Index(index)) => DecodeWarningKind::ItemDropped { index: *index },
                _ => DecodeWarningKind::FieldAbsent,
            };
            out.push(DecodeWarning {
                path: path_string(&path),
                message,
                value: d.line[d.line.len() - 1].to_value(),
                kind,
            });
        }
        out
    }
}

/// `data[3].picture.id`; a key is shown up to [`QUOTE_LIMIT`] characters.
fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                match k.char_indices().nth(QUOTE_LIMIT) {
                    Some((end, _)) => {
                        out.push_str(&k[..end]);
                        out.push('…');
                    }
                    None => out.push_str(k),
                }
            }
        }
    }
    out
}

/// The path with list indexes left out: `data[].picture.id`.
fn schema_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(_) => out.push_str("[]"),
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
        }
    }
    out
}

/// The error of a pass: why, and where (the innermost node it came from).
#[derive(Debug)]
struct DeError {
    message: String,
    /// The field, for serde's "missing field".
    missing: Option<&'static str>,
    path: Option<Vec<Seg>>,
}

impl DeError {
    /// Places the error at `chain` unless a node inside already claimed it.
    fn at(mut self, chain: &Chain<'_>) -> Self {
        if self.path.is_none() {
            self.path = Some(chain.segs());
        }
        self
    }
}

impl Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: Display>(msg: T) -> Self {
        DeError {
            message: bounded(msg),
            missing: None,
            path: None,
        }
    }
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "invalid type: {}, expected {}",
            Quoted(unexp),
            exp
        ))
    }
    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "invalid value: {}, expected {}",
            Quoted(unexp),
            exp
        ))
    }
    fn missing_field(field: &'static str) -> Self {
        DeError {
            message: format!("missing field `{field}`"),
            missing: Some(field),
            path: None,
        }
    }
}

fn unexpected<'t>(v: &'t Node<'_>) -> Unexpected<'t> {
    match &v.kind {
        Kind::Null => Unexpected::Unit,
        Kind::Bool(b) => Unexpected::Bool(*b),
        Kind::U64(n) => Unexpected::Unsigned(*n),
        Kind::I64(n) => Unexpected::Signed(*n),
        Kind::F64(f) => Unexpected::Float(*f),
        Kind::Str(s) => Unexpected::Str(s),
        Kind::List(_) => Unexpected::Seq,
        Kind::Object(_) => Unexpected::Map,
    }
}

/// A deserializer over a node of the tree, as serde_json's `&Value` deserializes, that passes
/// over the nodes left out and notes where an error comes from.
struct Walk<'t, 'a> {
    v: &'t Node<'t>,
    chain: &'a Chain<'a>,
    pass: &'a Pass<'t>,
}

impl<'t> Walk<'t, '_> {
    fn invalid<T>(&self, exp: &dyn de::Expected) -> Result<T, DeError> {
        Err(de::Error::invalid_type(unexpected(self.v), exp))
    }

    /// Visits a number as serde_json does: unsigned, signed, else float.
    fn number<V: Visitor<'t>>(&self, visitor: V) -> Result<V::Value, DeError> {
        match self.v.kind {
            Kind::U64(n) => visitor.visit_u64(n),
            Kind::I64(n) => visitor.visit_i64(n),
            Kind::F64(f) => visitor.visit_f64(f),
            _ => self.invalid(&visitor),
        }
    }

    /// Visits a list. `items_alone`: the visitor takes the items one by one, whatever their
    /// number (a `Vec`, a set), so items that decoded may be passed over until the last pass.
    fn seq<V: Visitor<'t>>(
        &self,
        list: &'t [Node<'t>],
        visitor: V,
        items_alone: bool,
    ) -> Result<V::Value, DeError> {
        // The items known to be passed over are not looked at again: work per pass does not
        // grow with the items left out or decoded before.
        let (epoch, lead) = self.v.lead.get();
        let lead = if epoch == self.pass.epoch {
            lead as usize
        } else {
            0
        };
        let mut seq = Items {
            iter: list.iter().enumerate().skip(lead),
            chain: self.chain,
            pass: self.pass,
            note: items_alone && self.pass.note,
            list: self.v,
            leading: true,
        };
        let out = visitor.visit_seq(&mut seq)?;
        if seq.iter.any(|(_, v)| !v.passed_over()) {
            return Err(de::Error::invalid_length(
                list.len(),
                &"fewer elements in array",
            ));
        }
        Ok(out)
    }

    fn map<V: Visitor<'t>>(
        &self,
        entries: &'t [(Cow<'t, str>, Node<'t>)],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut map = Entries {
            iter: entries.iter(),
            pending: None,
            chain: self.chain,
            pass: self.pass,
        };
        let out = visitor.visit_map(&mut map)?;
        if map.iter.any(|(_, v)| !v.passed_over()) {
            return Err(de::Error::invalid_length(
                entries.len(),
                &"fewer elements in map",
            ));
        }
        Ok(out)
    }
}

macro_rules! numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.number(visitor)
        }
    )*};
}

impl<'t> Deserializer<'t> for Walk<'t, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.kind {
            Kind::Null => visitor.visit_unit(),
            Kind::Bool(b) => visitor.visit_bool(*b),
            Kind::U64(_) | Kind::I64(_) | Kind::F64(_) => self.number(visitor),
            Kind::Str(s) => visitor.visit_borrowed_str(s),
            Kind::List(items) => self.seq(items, visitor, false),
            Kind::Object(entries) => self.map(entries, visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.v.kind {
            Kind::Bool(b) => visitor.visit_bool(b),
            _ => self.invalid(&visitor),
        }
    }

    numbers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    }

    fn deserialize_char<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.kind {
            Kind::Str(s) => visitor.visit_borrowed_str(s),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_string<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.kind {
            Kind::Str(s) => visitor.visit_borrowed_str(s),
            Kind::List(items) => self.seq(items, visitor, false),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.v.kind {
            Kind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.v.kind {
            Kind::Null => visitor.visit_unit(),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'t>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'t>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // `serde_json::value::RawValue` (how the generated types capture a value decoded
        // later, such as an item's `data` by its `type`) asks for its text under serde_json's
        // token; serde_json's own `Value` knows how to answer, so the node is handed to it.
        if name == RAW_VALUE_TOKEN {
            return self
                .v
                .to_value()
                .deserialize_newtype_struct(name, visitor)
                .map_err(de::Error::custom);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.kind {
            Kind::List(items) => self.seq(items, visitor, true),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'t>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.v.kind {
            Kind::List(items) => self.seq(items, visitor, false),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'t>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.kind {
            Kind::Object(entries) => self.map(entries, visitor),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'t>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.v.kind {
            Kind::Object(entries) => self.map(entries, visitor),
            Kind::List(items) => self.seq(items, visitor, false),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'t>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.v.kind {
            Kind::Str(s) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
            Kind::Object(entries) => {
                let mut visible = entries.iter().filter(|(_, v)| !v.passed_over());
                match (visible.next(), visible.next()) {
                    (Some((key, value)), None) => visitor.visit_enum(Variant {
                        key,
                        v: value,
                        chain: self.chain,
                        pass: self.pass,
                    }),
                    _ => Err(de::Error::invalid_value(
                        Unexpected::Map,
                        &"map with a single key",
                    )),
                }
            }
            _ => self.invalid(&"string or map"),
        }
    }

    fn deserialize_identifier<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// The items of a list, without those passed over.
struct Items<'t, 'a> {
    iter: std::iter::Skip<std::iter::Enumerate<std::slice::Iter<'t, Node<'t>>>>,
    chain: &'a Chain<'a>,
    pass: &'a Pass<'t>,
    note: bool,
    /// The list, to note how many of its first items are passed over.
    list: &'t Node<'t>,
    /// Whether every item so far was passed over.
    leading: bool,
}

impl<'t> SeqAccess<'t> for Items<'t, '_> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'t>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        let (index, v) = loop {
            match self.iter.next() {
                None => {
                    if self.leading {
                        self.list.lead.set((self.pass.epoch, u32::MAX));
                    }
                    return Ok(None);
                }
                Some((_, v)) if v.passed_over() => continue,
                Some(item) => break item,
            }
        };
        if self.leading {
            self.leading = false;
            let lead = u32::try_from(index).unwrap_or(u32::MAX);
            self.list.lead.set((self.pass.epoch, lead));
        }
        let link = Chain::Index(self.chain, index);
        let walk = Walk {
            v,
            chain: &link,
            pass: self.pass,
        };
        let out = seed.deserialize(walk).map_err(|e| e.at(&link))?;
        if self.note {
            self.pass.decoded.borrow_mut().push(v);
        }
        Ok(Some(out))
    }

    fn size_hint(&self) -> Option<usize> {
        self.pass.whole.then(|| self.iter.len())
    }
}

/// The entries of an object, without those passed over.
struct Entries<'t, 'a> {
    iter: std::slice::Iter<'t, (Cow<'t, str>, Node<'t>)>,
    pending: Option<(&'t str, &'t Node<'t>)>,
    chain: &'a Chain<'a>,
    pass: &'a Pass<'t>,
}

impl<'t> MapAccess<'t> for Entries<'t, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'t>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let (key, v) = loop {
            match self.iter.next() {
                None => return Ok(None),
                Some((_, v)) if v.passed_over() => continue,
                Some(entry) => break entry,
            }
        };
        self.pending = Some((key, v));
        seed.deserialize(Key(key))
            .map(Some)
            .map_err(|e| e.at(self.chain))
    }

    fn next_value_seed<S: DeserializeSeed<'t>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let Some((key, v)) = self.pending.take() else {
            return Err(de::Error::custom("a value was asked for before its key"));
        };
        let link = Chain::Key(self.chain, key);
        let walk = Walk {
            v,
            chain: &link,
            pass: self.pass,
        };
        seed.deserialize(walk).map_err(|e| e.at(&link))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An object key, as serde_json gives map keys: a string, or a number or bool parsed from it.
struct Key<'de>(&'de str);

macro_rules! parsed_keys {
    ($($method:ident $visit:ident $ty:ty)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.0.parse::<$ty>() {
                Ok(n) => visitor.$visit(n),
                Err(_) => Err(de::Error::invalid_type(Unexpected::Str(self.0), &visitor)),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Key<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(self.0)
    }

    parsed_keys! {
        deserialize_bool visit_bool bool
        deserialize_i8 visit_i8 i8
        deserialize_i16 visit_i16 i16
        deserialize_i32 visit_i32 i32
        deserialize_i64 visit_i64 i64
        deserialize_i128 visit_i128 i128
        deserialize_u8 visit_u8 u8
        deserialize_u16 visit_u16 u16
        deserialize_u32 visit_u32 u32
        deserialize_u64 visit_u64 u64
        deserialize_u128 visit_u128 u128
        deserialize_f32 visit_f32 f32
        deserialize_f64 visit_f64 f64
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(de::value::BorrowedStrDeserializer::new(self.0))
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// An enum written as an object with one key: the variant and its content.
struct Variant<'t, 'a> {
    key: &'t str,
    v: &'t Node<'t>,
    chain: &'a Chain<'a>,
    pass: &'a Pass<'t>,
}

impl<'de, 'a> EnumAccess<'de> for Variant<'de, 'a> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), DeError> {
        let tag = seed
            .deserialize(Key(self.key))
            .map_err(|e| e.at(self.chain))?;
        Ok((tag, self))
    }
}

impl<'de> Variant<'de, '_> {
    fn content<R>(
        &self,
        f: impl FnOnce(Walk<'de, '_>) -> Result<R, DeError>,
    ) -> Result<R, DeError> {
        let link = Chain::Key(self.chain, self.key);
        f(Walk {
            v: self.v,
            chain: &link,
            pass: self.pass,
        })
        .map_err(|e| e.at(&link))
    }
}

impl<'de> VariantAccess<'de> for Variant<'de, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        self.content(|walk| match walk.v.kind {
            Kind::Null => Ok(()),
            _ => walk.invalid(&"unit variant"),
        })
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, DeError> {
        self.content(|walk| seed.deserialize(walk))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.content(|walk| walk.deserialize_tuple(len, visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.content(|walk| walk.deserialize_struct("", fields, visitor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Deserializer};

    #[derive(Debug, Deserialize, PartialEq)]
    struct Page {
        data: Vec<Board>,
        #[serde(default)]
        total: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Board {
        id: String,
        #[serde(default)]
        picture: Option<Picture>,
        #[serde(default)]
        owner: Option<Owner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Picture {
        #[serde(default)]
        id: Option<f64>,
        #[serde(default, rename = "imageURL")]
        image_url: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Owner {
        id: String,
        #[serde(default)]
        name: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Single {
        id: String,
        name: String,
        #[serde(default)]
        total: Option<u32>,
    }

    fn tolerant<T: DeserializeOwned>(json: &str) -> Result<(T, Vec<DecodeWarning>), Failure> {
        decode(json.as_bytes(), false)
    }

    fn paths(warnings: &[DecodeWarning]) -> Vec<&str> {
        warnings.iter().map(|w| w.path.as_str()).collect()
    }

    #[test]
    fn a_mismatched_optional_field_is_dropped_and_reported() {
        let body =
            r#"{"data":[{"id":"a"},{"id":"b","picture":{"id":"345","imageURL":"u"}}],"total":2}"#;
        let (page, warnings) = tolerant::<Page>(body).unwrap();
        assert_eq!(page.data[1].picture.as_ref().unwrap().id, None);
        assert_eq!(
            page.data[1].picture.as_ref().unwrap().image_url.as_deref(),
            Some("u")
        );
        assert_eq!(paths(&warnings), ["data[1].picture.id"]);
        assert_eq!(warnings[0].value, Value::from("345"));
        assert_eq!(warnings[0].kind, DecodeWarningKind::FieldAbsent);
        assert!(decode::<Page>(body.as_bytes(), true).is_err());
    }

    #[test]
    fn a_mismatched_required_field_drops_its_nearest_optional_ancestor() {
        let body = r#"{"data":[{"id":"a","owner":{"id":7,"name":"Ada"}}],"total":-1}"#;
        let (page, warnings) = tolerant::<Page>(body).unwrap();
        assert_eq!(page.data[0].owner, None);
        assert_eq!(page.total, None);
        assert_eq!(paths(&warnings), ["data[0].owner", "total"]);
        // The dropped owner is reported whole, its id included, naming the field at fault.
        assert_eq!(warnings[0].value["id"], 7);
        assert!(
            warnings[0].message.contains("(at `data[0].owner.id`)"),
            "{}",
            warnings[0].message
        );
    }

    #[test]
    fn a_list_item_that_cannot_decode_is_dropped_alone() {
        let body = r#"{"data":[{"id":"a"},{"id":1},{"name":"no id"},{"id":"d"}],"total":4}"#;
        let (page, warnings) = tolerant::<Page>(body).unwrap();
        let ids: Vec<_> = page.data.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["a", "d"]);
        assert_eq!(page.total, Some(4));
        assert_eq!(paths(&warnings), ["data[1]", "data[2]"]);
        assert_eq!(
            warnings[0].kind,
            DecodeWarningKind::ItemDropped { index: 1 }
        );
        assert_eq!(warnings[0].value, serde_json::json!({"id": 1}));
        assert_eq!(warnings[1].value, serde_json::json!({"name": "no id"}));
        assert!(warnings[1].message.contains("missing field `id`"));
        assert!(warnings[0].to_string().contains("left out of its list"));
    }

    #[test]
    fn a_mismatched_required_field_without_anything_to_leave_out_fails_with_its_path() {
        let err = tolerant::<Single>(r#"{"id":"a","name":7}"#).unwrap_err();
        let e = err.into_error(br#"{"id":"a","name":7}"#);
        assert!(e.to_string().contains("(at `name`)"), "{e}");
        assert!(e.is_data());
        assert_eq!((e.line(), e.column()), (1, 18));
        let err = tolerant::<Single>(r#"{"id":"a"}"#).unwrap_err();
        assert!(err
            .into_error(br#"{"id":"a"}"#)
            .to_string()
            .contains("missing field `name`"));
    }

    #[test]
    fn malformed_json_fails_at_once() {
        let body = r#"{"data":[{"id":"a"}"#;
        let err = tolerant::<Page>(body).unwrap_err();
        assert!(err.into_error(body.as_bytes()).is_eof());
    }

    #[test]
    fn the_cap_counts_schema_paths_not_items() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Item {
            id: String,
            #[serde(default)]
            a: Option<u32>,
            #[serde(default)]
            b: Option<u32>,
        }
        #[derive(Debug, Deserialize)]
        struct Items {
            data: Vec<Item>,
        }
        let items: Vec<_> = (0..50)
            .map(|i| serde_json::json!({"id": i.to_string(), "a": "x", "b": "y"}))
            .collect();
        let body = serde_json::json!({ "data": items }).to_string();
        let (page, warnings) = tolerant::<Items>(&body).unwrap();
        assert_eq!(page.data.len(), 50);
        assert_eq!(warnings.len(), 100);

        // 65 distinct fields go over: the error names the 65th, where it is.
        let mut object = serde_json::Map::new();
        for i in 0..65 {
            object.insert(format!("f{i:02}"), Value::from("x"));
        }
        let body = Value::Object(object.clone()).to_string();
        let e = tolerant::<HashMap<String, u32>>(&body)
            .unwrap_err()
            .into_error(body.as_bytes());
        let text = e.to_string();
        assert!(
            text.contains("expected u32") && text.contains("(at `f64`)"),
            "{text}"
        );
        assert_eq!(e.column(), body.find(r#""f64":"x""#).unwrap() + 9, "{text}");
        object.remove("f64");
        let body = Value::Object(object).to_string();
        let (map, warnings) = tolerant::<HashMap<String, u32>>(&body).unwrap();
        assert!(map.is_empty());
        assert_eq!(warnings.len(), MAX_DROPPED);
    }

    #[test]
    fn items_that_decoded_are_not_decoded_again_until_the_last_pass() {
        thread_local! {
            static DECODED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        }
        /// An item that counts how often it is decoded.
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Counted(Inner);
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            id: String,
            #[serde(default)]
            a: Option<u32>,
            #[serde(default)]
            b: Option<u32>,
        }
        impl<'de> Deserialize<'de> for Counted {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                DECODED.with(|n| n.set(n.get() + 1));
                Inner::deserialize(d).map(Counted)
            }
        }
        #[derive(Debug, Deserialize)]
        struct Items {
            data: Vec<Counted>,
        }
        for n in [50, 400] {
            // Every item has two mismatched fields: 2n failures, each once.
            let items: Vec<_> = (0..n)
                .map(|i| serde_json::json!({"id": i.to_string(), "a": "x", "b": "y"}))
                .collect();
            let body = serde_json::json!({ "data": items }).to_string();
            DECODED.with(|d| d.set(0));
            let (page, warnings) = tolerant::<Items>(&body).unwrap();
            assert_eq!((page.data.len(), warnings.len()), (n, 2 * n));
            // Each item: the first attempt on the body (item 0 only), a pass failing at each
            // of its fields, one that decodes it, and the last pass.
            let decoded = DECODED.with(|d| d.get());
            assert!(decoded <= 4 * n + 2, "{n} items decoded {decoded} times");
        }
    }

    #[test]
    fn many_items_left_out_after_their_fields_stay_fast() {
        // 40,000 items whose optional field goes first, then the item (its id is missing):
        // about a second in a debug build, half a minute if each pass looked at the items
        // left out before.
        let items: Vec<_> = (0..40_000)
            .map(|_| serde_json::json!({"picture": {"id": "x"}}))
            .collect();
        let body = serde_json::json!({ "data": items }).to_string();
        let started = std::time::Instant::now();
        let (page, warnings) = tolerant::<Page>(&body).unwrap();
        let elapsed = started.elapsed();
        assert!(page.data.is_empty());
        assert_eq!(warnings.len(), 40_000);
        assert!(warnings
            .iter()
            .enumerate()
            .all(|(i, w)| w.kind == DecodeWarningKind::ItemDropped { index: i }));
        assert!(elapsed < std::time::Duration::from_secs(8), "{elapsed:?}");
    }

    #[test]
    fn duplicate_keys_warn_when_tolerant_and_fail_when_strict() {
        let body = r#"{"id":"a","name":"first","id":"b","name":"x"}"#;
        let (single, warnings) = tolerant::<Single>(body).unwrap();
        assert_eq!(single.id, "b");
        let mut dup: Vec<_> = warnings
            .iter()
            .filter(|w| w.kind == DecodeWarningKind::DuplicateKey)
            .map(|w| (w.path.as_str(), w.value.clone()))
            .collect();
        dup.sort_by(|a, b| a.0.cmp(b.0));
        assert_eq!(
            dup,
            [("id", Value::from("a")), ("name", Value::from("first"))]
        );
        let err = decode::<Single>(body.as_bytes(), true).unwrap_err();
        let e = err.into_error(body.as_bytes());
        assert!(e.to_string().contains("duplicate"), "{e}");
        assert_ne!(e.line(), 0);
        // A duplicate serde itself lets through (an unknown field) is refused when strict.
        let body = r#"{"id":"a","name":"n","extra":1,"extra":2}"#;
        assert!(tolerant::<Single>(body).is_ok());
        let e = decode::<Single>(body.as_bytes(), true)
            .unwrap_err()
            .into_error(body.as_bytes());
        assert!(e.to_string().contains("duplicate key (at `extra`)"), "{e}");
    }

    #[test]
    fn messages_quote_a_bounded_prefix_and_keep_the_whole_value() {
        let long = "z".repeat(100_000);
        let body =
            serde_json::json!({"data": [{"id": "a", "picture": {"imageURL": "u", "id": long}}]})
                .to_string();
        let (_, warnings) = tolerant::<Page>(&body).unwrap();
        assert_eq!(paths(&warnings), ["data[0].picture.id"]);
        assert!(
            warnings[0].message.len() < 2 * QUOTE_LIMIT + 100,
            "{}",
            warnings[0].message.len()
        );
        assert!(
            warnings[0].message.contains("100000 bytes"),
            "{}",
            warnings[0].message
        );
        assert_eq!(warnings[0].value.as_str().map(str::len), Some(100_000));
    }
}
