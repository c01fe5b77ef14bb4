//! What the generator knows of each operation, read from the fixed spec: names, docs, the
//! rate-limit level, the pagination kind and the multipart body.

use serde_json::Value;

use crate::fixes::wire_path;

/// How an operation pages its results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaginationKind {
    /// `cursor` + `limit` query parameters.
    Cursor,
    /// `offset` + `limit` query parameters.
    Offset,
    /// Not paginated.
    None,
}

impl PaginationKind {
    /// The variant name in the generated table.
    pub fn variant(self) -> &'static str {
        match self {
            PaginationKind::Cursor => "Cursor",
            PaginationKind::Offset => "Offset",
            PaginationKind::None => "None",
        }
    }
}

/// One operation of the spec.
#[derive(Clone, Debug)]
pub struct Operation {
    /// The operationId as the spec spells it (`get-specific-board`, `createGroup`).
    pub id: String,
    /// The Rust method name (`get_specific_board`, `create_group`).
    pub fn_name: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path as the spec keys it (may hold `{board_id_Platform*}` placeholders).
    pub spec_path: String,
    /// The path as it goes on the wire (every board id placeholder is `{board_id}`).
    pub path: String,
    /// First tag, or empty.
    pub tag: String,
    /// Rate-limit level 1..=4 when the description states one.
    pub level: Option<u8>,
    /// Whether the cost is charged per item of the body (bulk create).
    pub per_item: bool,
    /// Pagination kind.
    pub pagination: PaginationKind,
    /// Path parameter names in the order they appear in `path`.
    pub path_params: Vec<String>,
    /// Query parameter names, in the spec's order.
    pub query_params: Vec<String>,
    /// The largest `limit` the spec allows, for paginated operations that state one.
    pub max_page_size: Option<u32>,
    /// The smallest `limit` the spec allows, for paginated operations that state one.
    pub min_page_size: Option<u32>,
    /// The media type of the request and response bodies, when not `application/json` (see
    /// the `base-path-from-code-samples` fix).
    pub media_type: Option<String>,
    /// Summary line.
    pub summary: String,
    /// Description with the HTML reduced to Markdown-ish text, scope and level removed.
    pub description: String,
    /// Required OAuth scope, when stated.
    pub scope: Option<String>,
    /// Whether only Enterprise plans have it.
    pub enterprise_only: bool,
    /// Whether the spec marks it deprecated.
    pub deprecated: bool,
    /// The multipart body schema, for uploads (see the `multipart-to-extension` fix).
    pub multipart: Option<Value>,
}

#[cfg(test)]
impl Operation {
    /// An operation with only its method and path, for the generator's unit tests.
    pub(crate) fn bare(method: &str, path: &str) -> Operation {
        Operation {
            id: "x".into(),
            fn_name: "x".into(),
            method: method.into(),
            spec_path: path.into(),
            path: path.into(),
            tag: String::new(),
            level: None,
            per_item: false,
            pagination: PaginationKind::None,
            path_params: Vec::new(),
            query_params: Vec::new(),
            max_page_size: None,
            min_page_size: None,
            media_type: None,
            summary: String::new(),
            description: String::new(),
            scope: None,
            enterprise_only: false,
            deprecated: false,
            multipart: None,
        }
    }
}

/// Credits an operation of `level` costs, per Miro's rate-limit tiers.
pub fn credits_for_level(level: u8) -> u32 {
    match level {
        1 => 50,
        2 => 100,
        3 => 500,
        _ => 2000,
    }
}

/// Converts an operationId to the snake_case method name (`getItemsByGroupId` ->
/// `get_items_by_group_id`, `enterprise-get-teams` -> `enterprise_get_teams`).
pub fn snake_case(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 8);
    let mut prev_lower_or_digit = false;
    for c in id.chars() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            prev_lower_or_digit = false;
            continue;
        }
        if c.is_ascii_uppercase() {
            if prev_lower_or_digit && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower_or_digit = false;
        } else {
            out.push(c);
            prev_lower_or_digit = true;
        }
    }
    out.trim_end_matches('_').to_string()
}

/// Reads every operation of a fixed spec, in path order.
pub fn operations(spec: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        let shared_params: Vec<Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (method, op) in item {
            if !["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                continue;
            }
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            let raw_description = op
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let params: Vec<Value> = shared_params
                .iter()
                .chain(
                    op.get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                )
                .map(|p| resolve_param(spec, p))
                .collect();
            let has_query = |name: &str| {
                params
                    .iter()
                    .any(|p| p["in"] == "query" && p["name"].as_str() == Some(name))
            };
            let pagination = if has_query("cursor") {
                PaginationKind::Cursor
            } else if has_query("offset") {
                PaginationKind::Offset
            } else {
                PaginationKind::None
            };
            let (description, scope, level, enterprise_only) = split_description(raw_description);
            let query_params: Vec<String> = params
                .iter()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            let page_size_bound = |extension: &str| match pagination {
                PaginationKind::None => None,
                _ => params
                    .iter()
                    .find(|p| p["in"] == "query" && p["name"] == "limit")
                    .and_then(|p| p[extension].as_u64())
                    .and_then(|m| u32::try_from(m).ok()),
            };
            let max_page_size = page_size_bound(crate::fixes::MAX_PAGE_SIZE_EXTENSION);
            let min_page_size = page_size_bound(crate::fixes::MIN_PAGE_SIZE_EXTENSION);
            let media_type = op
                .get(crate::fixes::MEDIA_TYPE_EXTENSION)
                .and_then(Value::as_str)
                .map(str::to_string);
            let wire = wire_path(path);
            out.push(Operation {
                fn_name: snake_case(&id),
                id,
                method: method.to_uppercase(),
                spec_path: path.clone(),
                path_params: path_placeholders(&wire),
                path: wire,
                query_params,
                max_page_size,
                min_page_size,
                media_type,
                tag: op
                    .get("tags")
                    .and_then(|t| t.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                level,
                per_item: raw_description.contains("per item"),
                pagination,
                summary: op
                    .get("summary")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                description,
                scope,
                enterprise_only,
                deprecated: op
                    .get("deprecated")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                multipart: op.get("x-miro-multipart").cloned(),
            });
        }
    }
    out
}

/// The `{name}` placeholders of a path template, in order.
pub fn path_placeholders(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

/// A parameter object, its `$ref` followed.
pub(crate) fn resolve_param(spec: &Value, p: &Value) -> Value {
    match p.get("$ref").and_then(Value::as_str) {
        Some(r) => spec
            .pointer(&r.trim_start_matches('#').replace("~1", "/"))
            .cloned()
            .unwrap_or(Value::Null),
        None => p.clone(),
    }
}

/// Splits Miro's HTML description into prose, required scope, rate-limit level and the
/// Enterprise-only flag.
fn split_description(html: &str) -> (String, Option<String>, Option<u8>, bool) {
    let mut prose = html.to_string();
    let mut scope = None;
    let mut level = None;
    let mut enterprise = false;
    // Sections start with <h3>Title</h3>; everything from the first known section on is metadata.
    if let Some(pos) = html.find("<h3>") {
        prose = html[..pos].to_string();
        let meta = &html[pos..];
        for section in meta.split("<h3>").skip(1) {
            let (title, body) = section.split_once("</h3>").unwrap_or((section, ""));
            let text = html_to_text(body);
            match title.trim() {
                "Required scope" => {
                    let s = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !s.is_empty() {
                        scope = Some(s);
                    }
                }
                "Rate limiting" => {
                    level = text
                        .split("Level ")
                        .nth(1)
                        .and_then(|s| s.chars().next())
                        .and_then(|c| c.to_digit(10))
                        .map(|d| d as u8);
                    let extra = text
                        .split_once("Level ")
                        .map(|(_, r)| &r[1.min(r.len())..])
                        .unwrap_or("");
                    let extra = extra.trim();
                    if !extra.is_empty() {
                        prose.push_str("<br/><br/>Rate limiting: ");
                        prose.push_str(&format!("Level {} {extra}", level.unwrap_or(0)));
                    }
                }
                "Enterprise only" => {
                    enterprise = true;
                }
                other => {
                    prose.push_str(&format!("<br/><br/>**{other}**<br/>{body}"));
                }
            }
        }
    }
    (
        html_to_text(&prose).trim().to_string(),
        scope,
        level,
        enterprise,
    )
}

/// Reduces Miro's HTML to plain text with Markdown line breaks and links kept as text.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end].trim().to_ascii_lowercase();
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        match name {
            "br" | "p" | "ul" | "ol" => out.push('\n'),
            "li" if !tag.starts_with('/') => out.push_str("\n- "),
            "b" | "strong" => out.push_str("**"),
            "code" => out.push('`'),
            "h1" | "h2" | "h3" | "h4" => {
                out.push_str(if tag.starts_with('/') { "\n" } else { "\n\n" })
            }
            _ => {}
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    // Collapse runs of blank lines and trailing spaces.
    let mut lines: Vec<&str> = Vec::new();
    for line in out.lines().map(str::trim_end) {
        if line.trim().is_empty() && lines.last().is_some_and(|l| l.trim().is_empty()) {
            continue;
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// A parameter's description as one rustdoc paragraph.
pub fn param_doc(html: &str) -> String {
    html_to_text(html)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("](/", "](https://developers.miro.com/")
}

/// Drops the instructions for Miro's website ("To try out this API in our documentation: 1. In
/// the BODY PARAMS section...", with their figure captions): they describe a web page, not this
/// client.
pub(crate) fn without_website_instructions(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("To try out this API") {
            skipping = true;
            continue;
        }
        if skipping {
            let numbered = t
                .split_once('.')
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if numbered || t.starts_with("Figure") || t.is_empty() {
                continue;
            }
            skipping = false;
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push("");
            }
        }
        out.push(line);
    }
    out.join("\n")
}

/// The rustdoc of a generated method.
pub fn method_doc(op: &Operation) -> String {
    let mut doc = String::new();
    if !op.summary.is_empty() {
        doc.push_str(&op.summary);
        doc.push_str("\n\n");
    }
    if !op.description.is_empty() {
        doc.push_str(&without_website_instructions(&op.description));
        doc.push_str("\n\n");
    }
    doc.push_str(&format!(
        "`{} {}` (operation `{}`).\n",
        op.method, op.path, op.id
    ));
    if let Some(scope) = &op.scope {
        doc.push_str(&format!("\n- Required scope: `{scope}`"));
    }
    match op.level {
        Some(level) => doc.push_str(&format!(
            "\n- Rate limit: level {level} ({} credits{})",
            credits_for_level(level),
            if op.per_item { " per item" } else { "" }
        )),
        None => doc.push_str("\n- Rate limit: not stated by the spec"),
    }
    match op.pagination {
        PaginationKind::Cursor => doc.push_str("\n- Paginated by cursor"),
        PaginationKind::Offset => doc.push_str("\n- Paginated by offset"),
        PaginationKind::None => {}
    }
    if op.enterprise_only {
        doc.push_str("\n- Enterprise plan only");
    }
    if op.deprecated {
        doc.push_str("\n- Deprecated");
    }
    doc.push('\n');
    if let Some(example) = crate::doc_examples::section(&op.id) {
        doc.push_str(&example);
    }
    // Rustdoc treats indented lines as code blocks and bare URLs as warnings: keep it plain.
    doc.lines()
        .map(|l| l.trim_start())
        .collect::<Vec<_>>()
        .join("\n")
        .replace("](/", "](https://developers.miro.com/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn website_instructions_are_dropped() {
        let text = "Adds items.\n\nTo try out this API in our documentation:\n\n1. In the **BODY PARAMS** section, scroll.\n\nFigure 1. Add object\n\n2. Click.\n\nRate limiting: Level 2 per item.";
        assert_eq!(
            without_website_instructions(text),
            "Adds items.\n\nRate limiting: Level 2 per item."
        );
        let inline = "Adds files.\nTo try out this API in our documentation:\n1. Select **ADD FILE**.\n2. Upload.\n\nRate limiting: Level 2";
        assert_eq!(
            without_website_instructions(inline),
            "Adds files.\n\nRate limiting: Level 2"
        );
    }

    #[test]
    fn snake_case_matches_the_official_names() {
        assert_eq!(snake_case("get-specific-board"), "get_specific_board");
        assert_eq!(snake_case("getItemsByGroupId"), "get_items_by_group_id");
        assert_eq!(snake_case("unGroup"), "un_group");
        assert_eq!(
            snake_case("enterprise-get-organization-members"),
            "enterprise_get_organization_members"
        );
        assert_eq!(snake_case("revoke-token-v2"), "revoke_token_v2");
    }

    #[test]
    fn descriptions_split_into_scope_and_level() {
        let html = "Retrieves a list.<br/><h3>Required scope</h3> <a target=_blank href=https://x/scopes>boards:read</a> <br/><h3>Rate limiting</h3> <a href=\"/r\">Level 2</a><br/>";
        let (text, scope, level, ent) = split_description(html);
        assert_eq!(text, "Retrieves a list.");
        assert_eq!(scope.as_deref(), Some("boards:read"));
        assert_eq!(level, Some(2));
        assert!(!ent);
    }

    #[test]
    fn html_becomes_text() {
        assert_eq!(
            html_to_text("a<br/>b <b>c</b> &amp; <a href=x>d</a>"),
            "a\nb **c** & d"
        );
    }
}
