//! A request field that can also be cleared: sent as JSON `null`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value to send, or an explicit JSON `null` that clears the field on Miro's side.
///
/// Request bodies send only what is set, so an absent field leaves Miro's value as it is; for
/// the few fields Miro clears when they are `null` (see `clearable-fields` in the generator's
/// spec fixes; an item's `parent` in its update request), the field is an
/// `Option<Nullable<T>>`: `None` is not sent, `Some(Nullable::Null)` sends `null`,
/// `Some(Nullable::Value(v))` sends `v`. The setters do it for you:
///
/// ```
/// use miro_api::types::{Parent, StickyNoteUpdateRequest};
/// use miro_api::Nullable;
///
/// let into_frame = StickyNoteUpdateRequest::default().parent(Parent::default().id("3458764517517819001"));
/// let out_of_frame = StickyNoteUpdateRequest::default().clear_parent();
/// assert_eq!(serde_json::to_string(&out_of_frame).unwrap(), r#"{"parent":null}"#);
/// assert!(matches!(out_of_frame.parent, Some(Nullable::Null)));
/// assert_eq!(serde_json::to_string(&StickyNoteUpdateRequest::default()).unwrap(), "{}");
/// # let _ = into_frame;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Nullable<T> {
    /// `null`: clears the field.
    Null,
    /// A value for the field.
    Value(T),
}

impl<T> Nullable<T> {
    /// The value, unless this is `Null`.
    pub fn value(&self) -> Option<&T> {
        match self {
            Nullable::Null => None,
            Nullable::Value(v) => Some(v),
        }
    }
}

impl<T> From<T> for Nullable<T> {
    fn from(value: T) -> Self {
        Nullable::Value(value)
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Null => serializer.serialize_none(),
            Nullable::Value(v) => v.serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            None => Nullable::Null,
            Some(v) => Nullable::Value(v),
        })
    }
}

/// Decodes a present field as `Some(Nullable)` (a present `null` is `Some(Nullable::Null)`, not
/// `None`); with `#[serde(default)]`, an absent field is `None`.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Nullable<T>>, D::Error> {
    Nullable::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Body {
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        parent: Option<Nullable<u32>>,
    }

    #[test]
    fn absent_null_and_value_are_three_states() {
        for (json, parent) in [
            ("{}", None),
            (r#"{"parent":null}"#, Some(Nullable::Null)),
            (r#"{"parent":7}"#, Some(Nullable::Value(7))),
        ] {
            let body: Body = serde_json::from_str(json).unwrap();
            assert_eq!(body, Body { parent });
            assert_eq!(serde_json::to_string(&body).unwrap(), json);
        }
    }
}
