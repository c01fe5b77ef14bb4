//! The error of the generated read-to-write conversions (`TryFrom<&Read> for Write`).
//!
//! A conversion is `From` when everything the write type requires is always in the read
//! type; it is `TryFrom` when the read value may lack it (an item read without `data`), or
//! when the read value is of a kind the write type cannot hold (a frame as a bulk item, HTML
//! content as a Markdown document). The error says which; nothing is invented to fill a gap.

use std::fmt;

/// Why a value read from Miro does not convert into the type that writes it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConversionError {
    /// The read value lacks a field the write type requires.
    #[error("{write} needs `{field}`, which this {read} does not have")]
    Missing {
        /// The read type.
        read: &'static str,
        /// The write type.
        write: &'static str,
        /// The field's JSON name.
        field: &'static str,
    },
    /// The read value is of a kind the write type cannot hold: an item `type` it cannot
    /// create (a `frame` as a bulk item), data of a `type` this client does not know, or a
    /// union variant it has no place for (HTML content as Markdown data).
    #[error("{write} cannot hold {kind}")]
    NotCreatable {
        /// The write type.
        write: &'static str,
        /// What the read value is: its item `type`, or which union variant.
        kind: Kind,
    },
}

/// What a read value that cannot be written is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// An item of this `type` (`frame`, `doc_format`...).
    ItemType(&'static str),
    /// Data of a type this version of the client does not know, kept as raw JSON in the read
    /// value.
    Unknown,
    /// This variant of a union (`DocFormatData::HtmlData`).
    Variant(&'static str),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::ItemType(t) => write!(f, "items of type `{t}`"),
            Kind::Unknown => f.write_str("data of a type this client does not know"),
            Kind::Variant(v) => write!(f, "a `{v}`"),
        }
    }
}

impl ConversionError {
    #[doc(hidden)]
    pub fn missing(read: &'static str, write: &'static str, field: &'static str) -> Self {
        ConversionError::Missing { read, write, field }
    }

    #[doc(hidden)]
    pub fn not_creatable(write: &'static str, kind: Kind) -> Self {
        ConversionError::NotCreatable { write, kind }
    }
}
