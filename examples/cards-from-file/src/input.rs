//! Reading and validating the rows of a CSV or JSON file.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;

/// Miro's limit on a tag's title, in characters.
pub const TAG_TITLE_MAX: usize = 120;
/// Miro's limit on the tags of one item.
pub const TAGS_PER_ITEM_MAX: usize = 8;
/// The longest key accepted.
pub const KEY_MAX: usize = 100;

/// One valid row of the file: a card as it should be on the board.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The line of the file the row starts on (1-based).
    pub line: usize,
    /// The stable key matching the row to its card.
    pub key: String,
    /// The card's title.
    pub title: String,
    /// The card's description (without the sync marker).
    pub description: String,
    /// The due date, if any.
    pub due_date: Option<DateTime<Utc>>,
    /// The assignee: an email address or a Miro user id.
    pub assignee: Option<String>,
    /// Tag titles, without duplicates, in the file's order.
    pub tags: Vec<String>,
}

/// A row that was not used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The line of the file the row starts on (1-based; 0 for the whole file).
    pub line: usize,
    /// The row's key, when it had one.
    pub key: Option<String>,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(key) = &self.key {
            write!(f, " (key {key})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The extension is neither `.csv` nor `.json`.
    #[error("{0}: unknown format (use a .csv or .json file)")]
    Format(String),
    /// The CSV header or the JSON document is malformed.
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A row as written in the file, before validation. In CSV, `tags` is one cell with the tags
/// separated by `;`; in JSON it is an array of strings (or such a string).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    key: Option<String>,
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    due_date: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    tags: Option<Tags>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Tags {
    List(Vec<String>),
    Joined(String),
}

/// The rows of a file, valid ones and rejected ones.
#[derive(Debug, Default)]
pub struct Rows {
    /// The rows to sync.
    pub rows: Vec<Row>,
    /// The rows that failed validation, with their line numbers.
    pub errors: Vec<RowError>,
}

/// The columns of a row (in CSV, the header names; in JSON, the fields), in lower case: names
/// are matched without regard to case.
pub const COLUMNS: &[&str] = &[
    "key",
    "title",
    "description",
    "due_date",
    "assignee",
    "tags",
];

/// The text without a leading UTF-8 byte order mark (as editors on Windows write).
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The 1-based line of the CSV record the reader places at byte `offset` of `text`. The csv
/// crate places a record just after the previous one's line end, before the blank lines
/// skipped and, with CRLF, on the `\n` (its own line count is then wrong): the record starts
/// at the first byte from there that is not a line end.
fn line_at(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = offset.min(bytes.len());
    while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
        start += 1;
    }
    bytes[..start].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Reads a `.csv` or `.json` file (chosen by extension) and validates each row on its own.
pub fn read_file(path: &Path) -> Result<Rows, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => parse_csv(&text).map_err(|message| InputError::Malformed {
            path: path.display().to_string(),
            message,
        }),
        Some("json") => parse_json(&text).map_err(|message| InputError::Malformed {
            path: path.display().to_string(),
            message,
        }),
        _ => Err(InputError::Format(path.display().to_string())),
    }
}

/// Parses CSV text with a header row: `key,title,description,due_date,assignee,tags`
/// (`description`, `due_date`, `assignee` and `tags` may be left out; tags are `;`-separated).
///
/// Header names are matched without regard to case; a leading byte order mark is skipped;
/// line numbers count LF and CRLF line ends and blank lines as an editor does.
pub fn parse_csv(text: &str) -> Result<Rows, String> {
    let text = without_bom(text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("bad header row: {e}"))?
        .iter()
        .map(str::to_lowercase)
        .collect();
    for name in &headers {
        if !COLUMNS.contains(&name.as_str()) {
            return Err(format!(
                "unknown column {name:?} (expected key, title, description, due_date, assignee, tags)"
            ));
        }
    }
    let mut out = Rows::default();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(text, p.byte() as usize));
                out.errors.push(RowError {
                    line,
                    key: None,
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record
            .position()
            .map_or(0, |p| line_at(text, p.byte() as usize));
        let cell = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let raw = RawRow {
            key: cell("key"),
            title: cell("title"),
            description: cell("description"),
            due_date: cell("due_date"),
            assignee: cell("assignee"),
            tags: cell("tags").map(Tags::Joined),
        };
        out.push(line, raw);
    }
    out.check_duplicates();
    Ok(out)
}

/// Parses a JSON array of objects with the fields `key`, `title`, `description`, `due_date`,
/// `assignee` and `tags` (an array of strings). Each element is validated on its own, with the
/// line it starts on.
///
/// Field names are matched without regard to case; a leading byte order mark is skipped.
pub fn parse_json(text: &str) -> Result<Rows, String> {
    let text = without_bom(text);
    let elements = split_json_array(text)?;
    let mut out = Rows::default();
    for (offset, slice) in elements {
        let line = line_at(text, offset);
        let element = serde_json::from_str::<serde_json::Value>(slice).map(|v| match v {
            serde_json::Value::Object(fields) => serde_json::Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_lowercase(), v))
                    .collect(),
            ),
            other => other,
        });
        match element.and_then(serde_json::from_value::<RawRow>) {
            Ok(raw) => out.push(line, raw),
            Err(e) => {
                let key = serde_json::from_str::<serde_json::Value>(slice)
                    .ok()
                    .and_then(|v| v.get("key")?.as_str().map(str::to_owned));
                out.errors.push(RowError {
                    line,
                    key,
                    message: format!("not a card object: {e}"),
                })
            }
        }
    }
    out.check_duplicates();
    Ok(out)
}

/// The byte offset and text of each element of a top-level JSON array.
fn split_json_array(text: &str) -> Result<Vec<(usize, &str)>, String> {
    // Check the whole document first, so that the scan below sees valid JSON only.
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if !value.is_array() {
        return Err("the JSON document must be an array of card objects".into());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut start: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                if depth == 1 && start.is_none() {
                    start = Some(i);
                }
            }
            b'[' | b'{' => {
                if depth == 1 && start.is_none() {
                    start = Some(i);
                }
                depth += 1;
            }
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    if let Some(s) = start.take() {
                        out.push((s, text[s..i].trim_end()));
                    }
                }
            }
            b',' if depth == 1 => {
                if let Some(s) = start.take() {
                    out.push((s, text[s..i].trim_end()));
                }
            }
            b if b.is_ascii_whitespace() => {}
            _ => {
                if depth == 1 && start.is_none() {
                    start = Some(i);
                }
            }
        }
    }
    Ok(out)
}

impl Rows {
    fn push(&mut self, line: usize, raw: RawRow) {
        match validate(line, raw) {
            Ok(row) => self.rows.push(row),
            Err(e) => self.errors.push(e),
        }
    }

    /// A key seen twice: the later rows are errors.
    fn check_duplicates(&mut self) {
        let mut seen = std::collections::HashMap::new();
        let mut kept = Vec::new();
        for row in std::mem::take(&mut self.rows) {
            if let Some(first) = seen.get(&row.key) {
                self.errors.push(RowError {
                    line: row.line,
                    key: Some(row.key.clone()),
                    message: format!("duplicate key (first used on line {first})"),
                });
            } else {
                seen.insert(row.key.clone(), row.line);
                kept.push(row);
            }
        }
        self.rows = kept;
        self.errors.sort_by_key(|e| e.line);
    }
}

fn validate(line: usize, raw: RawRow) -> Result<Row, RowError> {
    let key = raw.key.as_deref().map(str::trim).unwrap_or("").to_owned();
    let fail = |message: String| RowError {
        line,
        key: (!key.is_empty()).then(|| key.clone()),
        message,
    };
    if key.is_empty() {
        return Err(fail("missing key".into()));
    }
    if key.chars().count() > KEY_MAX {
        return Err(fail(format!("key longer than {KEY_MAX} characters")));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
    {
        return Err(fail(
            "key may hold only letters, digits and - _ . : /".into(),
        ));
    }
    let title = raw.title.as_deref().map(str::trim).unwrap_or("").to_owned();
    if title.is_empty() {
        return Err(fail("missing title".into()));
    }
    let description = raw.description.unwrap_or_default().trim().to_owned();
    if description.contains(crate::MARKER) {
        return Err(fail(format!(
            "description may not contain {:?}",
            crate::MARKER
        )));
    }
    let due_date = match raw.due_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(parse_date(s).ok_or_else(|| {
            fail(format!(
                "due_date {s:?} is not a date (YYYY-MM-DD or RFC 3339)"
            ))
        })?),
    };
    let assignee = match raw.assignee.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) if a.contains('@') => {
            let valid = a
                .split_once('@')
                .is_some_and(|(u, d)| !u.is_empty() && d.contains('.') && !a.contains(' '));
            if !valid {
                return Err(fail(format!("assignee {a:?} is not an email address")));
            }
            Some(a.to_ascii_lowercase())
        }
        Some(a) if a.chars().all(|c| c.is_ascii_digit()) => Some(a.to_owned()),
        Some(a) => {
            return Err(fail(format!(
                "assignee {a:?} is neither an email address nor a Miro user id"
            )))
        }
    };
    let tags: Vec<String> = match raw.tags {
        None => Vec::new(),
        Some(Tags::List(list)) => list,
        Some(Tags::Joined(s)) => s.split(';').map(str::to_owned).collect(),
    };
    let mut seen = HashSet::new();
    let mut unique = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_owned();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > TAG_TITLE_MAX {
            return Err(fail(format!(
                "tag {tag:?} is longer than Miro's {TAG_TITLE_MAX} characters"
            )));
        }
        if seen.insert(tag.clone()) {
            unique.push(tag);
        }
    }
    if unique.len() > TAGS_PER_ITEM_MAX {
        return Err(fail(format!(
            "{} tags; Miro allows at most {TAGS_PER_ITEM_MAX} per card",
            unique.len()
        )));
    }
    Ok(Row {
        line,
        key,
        title,
        description,
        due_date,
        assignee,
        tags: unique,
    })
}

/// A tag colour as Miro names it: `red`, `light_green`, `cyan`, `yellow`, `magenta`, `green`,
/// `blue`, `gray`, `violet`, `dark_green`, `dark_blue` or `black`.
pub fn parse_tag_color(s: &str) -> Result<miro_api::types::TagFillColor, String> {
    let name = s.trim().to_lowercase();
    match serde_json::from_value(serde_json::Value::String(name)) {
        Ok(miro_api::types::TagFillColor::UnknownValue(_)) | Err(_) => Err(format!(
            "{s:?} is not a Miro tag colour (red, light_green, cyan, yellow, magenta, green, \
             blue, gray, violet, dark_green, dark_blue, black)"
        )),
        Ok(color) => Ok(color),
    }
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_keep_their_line_numbers_and_bad_rows_do_not_stop_others() {
        let text = "key,title,tags,due_date\nA-1,First,x;y;x,2026-01-02\n,No key,,\nA-2,\"Two\nlines\",,soon\nA-3,Third,,\nA-1,Again,,\n";
        let rows = parse_csv(text).unwrap();
        let keys: Vec<_> = rows.rows.iter().map(|r| (r.line, r.key.as_str())).collect();
        assert_eq!(keys, [(2, "A-1"), (6, "A-3")]);
        assert_eq!(rows.rows[0].tags, ["x", "y"]);
        let lines: Vec<_> = rows.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 7], "{:?}", rows.errors);
    }

    #[test]
    fn json_elements_report_the_line_they_start_on() {
        let text = "[\n  {\"key\": \"k1\", \"title\": \"a\", \"tags\": [\"t\"]},\n  {\"key\": \"k2\"},\n  {\"key\": \"k3\", \"title\": \"c\", \"extra\": 1}\n]";
        let rows = parse_json(text).unwrap();
        assert_eq!(rows.rows.len(), 1);
        assert_eq!(rows.rows[0].tags, ["t"]);
        let lines: Vec<_> = rows.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4]);
        assert!(parse_json("{}").is_err());
    }

    #[test]
    fn line_numbers_count_crlf_and_blank_lines() {
        let text = "key,title\r\nA-1,One\r\n\r\nA-2,\r\n\r\n\r\nA-3,Three\r\n";
        let rows = parse_csv(text).unwrap();
        let keys: Vec<_> = rows.rows.iter().map(|r| (r.line, r.key.as_str())).collect();
        assert_eq!(keys, [(2, "A-1"), (7, "A-3")]);
        let lines: Vec<_> = rows.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4], "{:?}", rows.errors);
        let unix = parse_csv("key,title\n\nA-1,One\n\nA-2,\n").unwrap();
        assert_eq!(unix.rows[0].line, 3);
        assert_eq!(unix.errors[0].line, 5);
    }

    #[test]
    fn a_byte_order_mark_and_the_case_of_names_do_not_matter() {
        let rows = parse_csv("\u{feff}Key,TITLE,Tags\r\nA-1,One,x;y\r\n").unwrap();
        assert!(rows.errors.is_empty(), "{:?}", rows.errors);
        assert_eq!(rows.rows[0].key, "A-1");
        assert_eq!(rows.rows[0].tags, ["x", "y"]);
        let rows = parse_json(
            "\u{feff}[\r\n  {\"Key\": \"J-1\", \"Title\": \"a\"},\r\n  {\"key\": \"J-2\"}\r\n]",
        )
        .unwrap();
        assert_eq!(rows.rows.len(), 1, "{:?}", rows.errors);
        assert_eq!(rows.errors[0].line, 3);
    }

    #[test]
    fn tag_colours_are_miros_names() {
        use miro_api::types::TagFillColor;
        assert_eq!(parse_tag_color("red"), Ok(TagFillColor::Red));
        assert_eq!(parse_tag_color("Dark_Blue"), Ok(TagFillColor::DarkBlue));
        assert!(parse_tag_color("pink")
            .unwrap_err()
            .contains("not a Miro tag colour"));
    }
}
