//! Writing answers: JSON (pretty on a terminal, compact when piped, key order kept as Miro
//! sent it), one item per line for walks, or a table for people.

use std::io::{self, Write};

use serde_json::value::RawValue;
use serde_json::Value;

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON, pretty when `pretty`.
    Json {
        /// Indent (on a terminal) or not (piped).
        pretty: bool,
    },
    /// Aligned columns.
    Table,
}

/// Re-indents JSON text without parsing it into a map, so keys stay in Miro's order.
/// `pretty: false` removes the whitespace between tokens.
pub fn reformat(json: &[u8], pretty: bool, out: &mut Vec<u8>) {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(b"  ");
        }
    };
    while i < json.len() {
        let c = json[i];
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            b' ' | b'\n' | b'\r' | b'\t' => {}
            b'"' => {
                in_string = true;
                out.push(c);
            }
            b'{' | b'[' => {
                // An empty container stays on one line.
                let close = if c == b'{' { b'}' } else { b']' };
                let mut j = i + 1;
                while j < json.len() && json[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < json.len() && json[j] == close {
                    out.push(c);
                    out.push(close);
                    i = j + 1;
                    continue;
                }
                out.push(c);
                depth += 1;
                if pretty {
                    newline(out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if pretty {
                    newline(out, depth);
                }
                out.push(c);
            }
            b',' => {
                out.push(c);
                if pretty {
                    newline(out, depth);
                }
            }
            b':' => {
                out.push(c);
                if pretty {
                    out.push(b' ');
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
}

/// Writes one whole answer.
pub fn write_answer(body: &[u8], format: Format) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match format {
        Format::Json { pretty } => {
            let mut buf = Vec::with_capacity(body.len() + body.len() / 4);
            reformat(body, pretty, &mut buf);
            buf.push(b'\n');
            out.write_all(&buf)?;
        }
        Format::Table => {
            let value: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => {
                    out.write_all(body)?;
                    return out.write_all(b"\n");
                }
            };
            let rows: Vec<Value> = match value {
                Value::Object(mut o) if o.get("data").is_some_and(Value::is_array) => {
                    match o.remove("data") {
                        Some(Value::Array(rows)) => rows,
                        _ => Vec::new(),
                    }
                }
                Value::Array(rows) => rows,
                other => vec![other],
            };
            let mut table = Table::default();
            for row in &rows {
                table.row(row);
            }
            table.write(&mut out)?;
        }
    }
    out.flush()
}

/// Rows of a table: columns from the first row (`id` and `type` first, then scalar fields,
/// one level of nested objects flattened as `data.title`), at most [`Table::MAX_COLUMNS`].
#[derive(Default)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn cell(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let text = text.replace(['\n', '\t'], " ");
    if text.chars().count() > 40 {
        let mut t: String = text.chars().take(39).collect();
        t.push('…');
        t
    } else {
        text
    }
}

fn lookup<'v>(v: &'v Value, column: &str) -> Option<&'v Value> {
    match column.split_once('.') {
        Some((a, b)) => v.get(a)?.get(b),
        None => v.get(column),
    }
}

impl Table {
    /// The most columns a table shows.
    pub const MAX_COLUMNS: usize = 6;

    /// Adds a row (the first decides the columns).
    pub fn row(&mut self, v: &Value) {
        if self.columns.is_empty() {
            self.columns = columns_of(v);
        }
        let row = self
            .columns
            .iter()
            .map(|c| lookup(v, c).map(cell).unwrap_or_default())
            .collect();
        self.rows.push(row);
    }

    /// Writes the header and the rows, aligned.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        if self.columns.is_empty() {
            return Ok(());
        }
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
            let mut text = String::new();
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(c);
                if i + 1 < cells.len() {
                    text.push_str(&" ".repeat(w - c.chars().count()));
                }
            }
            writeln!(out, "{}", text.trim_end())
        };
        let header: Vec<String> = self.columns.iter().map(|c| c.to_uppercase()).collect();
        line(out, &header)?;
        for row in &self.rows {
            line(out, row)?;
        }
        Ok(())
    }
}

fn columns_of(v: &Value) -> Vec<String> {
    let Value::Object(o) = v else {
        return vec![String::new()];
    };
    let mut cols: Vec<String> = Vec::new();
    for first in ["id", "type"] {
        if o.get(first)
            .is_some_and(|x| !x.is_object() && !x.is_array())
        {
            cols.push(first.into());
        }
    }
    // What tells rows apart first (an item's `data`, a name or title), then the rest.
    const FIRST: &[&str] = &["data", "name", "title", "role", "email", "status"];
    let ordered = FIRST
        .iter()
        .filter_map(|k| o.get_key_value(*k))
        .chain(o.iter().filter(|(k, _)| !FIRST.contains(&k.as_str())));
    for (k, x) in ordered {
        if cols.len() >= Table::MAX_COLUMNS {
            break;
        }
        match x {
            Value::Object(inner) => {
                for (k2, y) in inner {
                    if cols.len() >= Table::MAX_COLUMNS {
                        break;
                    }
                    if !y.is_object() && !y.is_array() {
                        cols.push(format!("{k}.{k2}"));
                    }
                }
            }
            Value::Array(_) => {}
            _ if cols.iter().any(|c| c == k) => {}
            _ => cols.push(k.clone()),
        }
    }
    cols
}

/// Writes the items of pages as they come: NDJSON (one compact item per line) or table rows
/// (columns from the first item, printed as each page arrives).
pub struct ItemWriter {
    format: Format,
    out: io::BufWriter<io::Stdout>,
    columns: Option<Table>,
    /// Items written so far.
    pub count: u64,
}

impl ItemWriter {
    /// A writer to stdout.
    pub fn new(format: Format) -> Self {
        ItemWriter {
            format,
            out: io::BufWriter::with_capacity(64 * 1024, io::stdout()),
            columns: None,
            count: 0,
        }
    }

    /// Writes one page's items.
    pub fn page(&mut self, items: &[&RawValue]) -> io::Result<()> {
        match self.format {
            Format::Json { .. } => {
                let mut line = Vec::new();
                for item in items {
                    line.clear();
                    reformat(item.get().as_bytes(), false, &mut line);
                    line.push(b'\n');
                    self.out.write_all(&line)?;
                }
            }
            Format::Table => {
                // Each page is aligned on its own; the columns (and the one header) come from
                // the first item of the walk.
                let first = self.columns.is_none();
                let mut table = Table {
                    columns: self
                        .columns
                        .as_ref()
                        .map(|t| t.columns.clone())
                        .unwrap_or_default(),
                    rows: Vec::new(),
                };
                for item in items {
                    let v: Value = serde_json::from_str(item.get()).unwrap_or(Value::Null);
                    table.row(&v);
                }
                let mut buf = Vec::new();
                table.write(&mut buf)?;
                let skip = if first {
                    0
                } else {
                    buf.iter()
                        .position(|b| *b == b'\n')
                        .map_or(buf.len(), |p| p + 1)
                };
                self.out.write_all(&buf[skip..])?;
                if first && !table.columns.is_empty() {
                    table.rows.clear();
                    self.columns = Some(table);
                }
            }
        }
        self.count += items.len() as u64;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(s: &str, pretty: bool) -> String {
        let mut out = Vec::new();
        reformat(s.as_bytes(), pretty, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn reformatting_keeps_order_and_strings() {
        let s = r#"{ "z": 1, "a": [ ], "s": "a, b: {c}\" ]" }"#;
        assert_eq!(re(s, false), r#"{"z":1,"a":[],"s":"a, b: {c}\" ]"}"#);
        assert_eq!(
            re(s, true),
            "{\n  \"z\": 1,\n  \"a\": [],\n  \"s\": \"a, b: {c}\\\" ]\"\n}"
        );
    }
}
