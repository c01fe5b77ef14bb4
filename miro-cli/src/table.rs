//! The shape of the generated command table (`generated/commands.rs`): plain data the
//! runtime turns into clap commands and requests.

/// What a parameter or body field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text (ids, names, dates).
    String,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// Anything else, given as JSON (the generator emits it for parameters of object type;
    /// the pinned spec has none yet).
    #[allow(dead_code)]
    Json,
}

/// A path or query parameter, or a top-level scalar field of the body.
#[derive(Debug)]
pub struct Param {
    /// The name on the wire (`board_id`, `startIndex`, `name`).
    pub name: &'static str,
    /// The flag, without its dashes (`board-id`, `start-index`).
    pub flag: &'static str,
    /// Whether the spec requires it.
    pub required: bool,
    /// Its value type.
    pub kind: Kind,
    /// Whether it takes several values (a list: the flag repeats).
    pub many: bool,
    /// The values the spec allows, when it lists them.
    pub values: &'static [&'static str],
    /// One line of help, from the spec.
    pub help: &'static str,
}

/// How an operation takes its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// A JSON body.
    Json {
        /// Whether the spec requires one.
        required: bool,
    },
    /// `multipart/form-data`: a JSON part and file parts.
    Multipart,
}

/// A file part of a multipart body.
#[derive(Debug)]
pub struct FilePart {
    /// The part's name.
    pub name: &'static str,
    /// Whether it takes several files.
    pub many: bool,
}

/// How an operation pages its results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pagination {
    /// `cursor` and `limit`; the answer's `cursor` names the next page.
    Cursor,
    /// `offset` and `limit`; the answer's `total` tells when to stop.
    Offset,
    /// One answer.
    None,
}

/// One operation as a command: `miro AREA ACTION`.
#[derive(Debug)]
pub struct Command {
    /// The command group (`boards`, `sticky-notes`).
    pub area: &'static str,
    /// The API area's title (the `miro-api` feature's heading).
    pub area_title: &'static str,
    /// The command within its area (`list`, `create`).
    pub action: &'static str,
    /// The spec's operationId.
    pub id: &'static str,
    /// Upper-case HTTP method.
    pub http_method: &'static str,
    /// Path template as it goes on the wire.
    pub path: &'static str,
    /// Path parameters, in the order of the template.
    pub path_params: &'static [Param],
    /// Query parameters.
    pub query_params: &'static [Param],
    /// The body kind.
    pub body: BodyKind,
    /// Top-level scalar fields of the body, settable as flags.
    pub body_fields: &'static [Param],
    /// The JSON part of a multipart body.
    pub json_part: Option<&'static str>,
    /// The file parts of a multipart body.
    pub file_parts: &'static [FilePart],
    /// Pagination kind.
    pub pagination: Pagination,
    /// Required OAuth scope.
    pub scope: Option<&'static str>,
    /// Rate-limit level.
    pub level: Option<u8>,
    /// Credits a call costs.
    pub credits: u32,
    /// Whether the credits are per item of the body.
    pub credits_per_item: bool,
    /// Whether only Enterprise plans have it.
    pub enterprise_only: bool,
    /// Whether the spec marks it deprecated.
    pub deprecated: bool,
    /// Media type of JSON bodies (`application/scim+json` for SCIM); `miro-api`'s raw
    /// requests send `application/json`, which Miro's SCIM endpoints take too.
    #[allow(dead_code)]
    pub media_type: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Plain-text help (the spec's HTML stripped).
    pub help: &'static str,
}

/// A command group: `miro AREA`, one per command area of the table.
#[derive(Debug)]
pub struct Area {
    /// The group's name (`boards`, `sticky-notes`).
    pub name: &'static str,
    /// One line: the spec's tag, marked where all its operations share a trait
    /// (`Code widget items (experimental)`).
    pub about: &'static str,
}
