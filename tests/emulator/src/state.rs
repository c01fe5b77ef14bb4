//! The emulator's state: boards and everything on them, behind one lock.
//!
//! Every stored object keeps its JSON form and a pre-serialized copy of it, so
//! reads answer by copying bytes instead of serializing again.

use std::collections::BTreeMap;

use bytes::Bytes;
use indexmap::IndexMap;
use serde_json::Value;

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

/// A board and its contents.
#[derive(Debug, Clone)]
pub(crate) struct Board {
    pub stored: Stored,
    pub members: IndexMap<u64, Value>,
    pub items: BTreeMap<u64, Item>,
    pub tags: IndexMap<u64, Value>,
    pub connectors: BTreeMap<u64, Stored>,
    pub groups: BTreeMap<u64, Vec<u64>>,
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
