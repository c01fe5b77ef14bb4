//! The emulator's state: boards and everything on them, behind one lock.
//!
//! Every stored object keeps its JSON form and a pre-serialized copy of it, so
//! reads answer by copying bytes instead of serializing again.

use std::collections::BTreeMap;

use bytes::Bytes;
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// A JSON object with its serialized bytes kept in step.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub json: Value,
    pub bytes: Bytes,
}

impl Stored {
    pub(crate) fn new(json: Value) -> Self {
        let bytes = Bytes::from(serde_json::to_vec(&json).unwrap_or_default());
        Stored { json, bytes }
    }

    /// Re-serializes after `json` changed.
    pub(crate) fn refresh(&mut self) {
        self.bytes = Bytes::from(serde_json::to_vec(&self.json).unwrap_or_default());
    }
}

/// A file uploaded with an image or document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The part's file name, if the client sent one.
    pub file_name: Option<String>,
    /// The part's content type, if the client sent one.
    pub content_type: Option<String>,
    /// The file's bytes, exactly as received.
    pub bytes: Bytes,
}

/// One board item (sticky note, card, frame, ...).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub stored: Stored,
    /// The item's `type`, e.g. `sticky_note`.
    pub kind: String,
    /// The frame holding this item, if any.
    pub parent: Option<u64>,
    /// Attached tag ids, in attach order.
    pub tags: Vec<u64>,
    /// The uploaded file for images and documents created from a file.
    pub file: Option<UploadedFile>,
}

/// A comment thread, kept as the JSON pieces it is sent as: its fields (and the start of its
/// `messages`), then each message. A reply adds a piece; nothing is serialized again, and an
/// answer streams the pieces without joining them.
#[derive(Debug, Clone)]
pub(crate) struct Thread {
    /// The thread's fields but its messages.
    head: Map<String, Value>,
    /// `{<head's fields>,"messages":[`.
    opening: Bytes,
    /// Each message's JSON, those after the first with a leading comma.
    messages: Vec<Bytes>,
}

/// The end of a thread's JSON.
const CLOSING: &[u8] = b"]}";

impl Thread {
    /// A thread of `head`'s fields whose first message is `first`.
    pub(crate) fn new(head: Map<String, Value>, first: &Value) -> Self {
        let opening = opening(&head);
        Thread {
            head,
            opening,
            messages: vec![Bytes::from(serde_json::to_vec(first).unwrap_or_default())],
        }
    }

    /// How many messages it has.
    pub(crate) fn messages(&self) -> usize {
        self.messages.len()
    }

    /// Appends `message` (only it is serialized).
    pub(crate) fn reply(&mut self, message: &Value) {
        let mut piece = b",".to_vec();
        piece.extend(serde_json::to_vec(message).unwrap_or_default());
        self.messages.push(Bytes::from(piece));
    }

    /// Changes the thread's fields (not its messages).
    pub(crate) fn update(&mut self, change: impl FnOnce(&mut Map<String, Value>)) {
        change(&mut self.head);
        self.opening = opening(&self.head);
    }

    /// The pieces of the thread's JSON, in order (sharing the thread's bytes).
    pub(crate) fn pieces(&self) -> impl Iterator<Item = Bytes> + '_ {
        std::iter::once(self.opening.clone())
            .chain(self.messages.iter().cloned())
            .chain(std::iter::once(Bytes::from_static(CLOSING)))
    }

    /// The length of the thread's JSON.
    pub(crate) fn len(&self) -> usize {
        self.opening.len() + self.messages.iter().map(Bytes::len).sum::<usize>() + CLOSING.len()
    }

    /// The thread as a JSON value (for the state file).
    pub(crate) fn to_json(&self) -> Value {
        serde_json::from_slice(&self.to_bytes()).unwrap_or(Value::Null)
    }

    /// A thread back from [`to_json`](Self::to_json)'s value: `None` unless it is an object
    /// with at least one message.
    pub(crate) fn from_json(value: Value) -> Option<Thread> {
        let Value::Object(mut head) = value else {
            return None;
        };
        let Some(Value::Array(messages)) = head.remove("messages") else {
            return None;
        };
        let mut messages = messages.into_iter();
        let mut thread = Thread::new(head, &messages.next()?);
        for m in messages {
            thread.reply(&m);
        }
        Some(thread)
    }

    /// The thread's JSON in one piece (a copy).
    pub(crate) fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.len());
        for piece in self.pieces() {
            out.extend_from_slice(&piece);
        }
        Bytes::from(out)
    }
}

/// `{<head's fields>,"messages":[`.
fn opening(head: &Map<String, Value>) -> Bytes {
    let mut out = serde_json::to_vec(head).unwrap_or_else(|_| b"{}".to_vec());
    out.pop(); // the closing brace
    if !head.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(b"\"messages\":[");
    Bytes::from(out)
}

/// A board and its contents. Its comment threads go with it.
#[derive(Debug, Clone)]
pub(crate) struct Board {
    pub stored: Stored,
    pub members: IndexMap<u64, Value>,
    pub items: BTreeMap<u64, Item>,
    pub tags: IndexMap<u64, Value>,
    pub connectors: BTreeMap<u64, Stored>,
    pub groups: BTreeMap<u64, Vec<u64>>,
    /// Comment threads by id, in creation order.
    pub comments: IndexMap<String, Thread>,
}

impl Board {
    pub(crate) fn new(json: Value) -> Self {
        Board {
            stored: Stored::new(json),
            members: IndexMap::new(),
            items: BTreeMap::new(),
            tags: IndexMap::new(),
            connectors: BTreeMap::new(),
            groups: BTreeMap::new(),
            comments: IndexMap::new(),
        }
    }

    /// Removes an item and everything that points at it: connectors ending at
    /// it, its place in groups, and the parent link of items in a deleted frame.
    pub(crate) fn remove_item(&mut self, id: u64) -> Option<Item> {
        let item = self.items.remove(&id)?;
        let id_str = id.to_string();
        self.connectors.retain(|_, c| {
            c.json["startItem"]["id"] != id_str.as_str()
                && c.json["endItem"]["id"] != id_str.as_str()
        });
        for members in self.groups.values_mut() {
            members.retain(|m| *m != id);
        }
        self.groups.retain(|_, m| !m.is_empty());
        if item.kind == "frame" {
            for child in self.items.values_mut() {
                if child.parent == Some(id) {
                    child.parent = None;
                    if let Some(obj) = child.stored.json.as_object_mut() {
                        obj.remove("parent");
                        obj["position"]["relativeTo"] = Value::from("canvas_center");
                    }
                    child.stored.refresh();
                }
            }
        }
        Some(item)
    }
}

/// A team of the organisation and its members (by user id).
#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub stored: Stored,
    pub members: BTreeMap<u64, Stored>,
}

/// The organisation: members and teams by id (ids grow with creation order).
#[derive(Debug, Default)]
pub(crate) struct Org {
    pub id: String,
    pub members: BTreeMap<u64, Stored>,
    pub teams: BTreeMap<u64, Team>,
}

/// All boards, in creation order, and the organisation.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub boards: IndexMap<String, Board>,
    pub org: Org,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn head() -> Map<String, Value> {
        let Value::Object(head) = json!({"id": "1", "type": "comment", "resolved": false}) else {
            unreachable!()
        };
        head
    }

    #[test]
    fn a_thread_is_its_head_and_its_messages_in_order() {
        let mut t = Thread::new(head(), &json!({"id": "m0"}));
        t.reply(&json!({"id": "m1", "content": "a \"quoted\" reply"}));
        t.update(|h| {
            h.insert("resolved".into(), Value::Bool(true));
        });
        t.reply(&json!({"id": "m2"}));
        let v: Value = serde_json::from_slice(&t.to_bytes()).unwrap();
        assert_eq!(t.len(), t.to_bytes().len());
        assert_eq!(v["resolved"], true);
        assert_eq!(v["id"], "1");
        let ids: Vec<_> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["m0", "m1", "m2"]);
        assert_eq!(v["messages"][1]["content"], "a \"quoted\" reply");
        assert_eq!(t.messages(), 3);
        let empty = Thread::new(Map::new(), &json!(1));
        assert_eq!(&empty.to_bytes()[..], br#"{"messages":[1]}"#);
    }

    #[test]
    fn replies_append_without_serializing_the_thread_again() {
        // 400 replies of 10,000 characters: the thread grows to 8 MB. Serializing it again on
        // each reply writes 1.6 GB of JSON (tens of seconds in a debug build); a reply here
        // serializes its message only.
        let content = "é".repeat(10_000);
        let started = std::time::Instant::now();
        let mut t = Thread::new(head(), &json!({"content": content}));
        for i in 0..400 {
            t.reply(&json!({"id": i.to_string(), "content": content}));
        }
        let elapsed = started.elapsed();
        let v: Value = serde_json::from_slice(&t.to_bytes()).unwrap();
        assert_eq!(v["messages"].as_array().unwrap().len(), 401);
        assert!(
            elapsed < std::time::Duration::from_millis(1_000),
            "400 replies took {elapsed:?}"
        );
    }
}
