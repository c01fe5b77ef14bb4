//! Running an operation command or `miro api`: arguments to a request, the body checked
//! against its type, sent through `miro-api`'s raw requests, pages walked.

use std::io::{IsTerminal, Read, Write};

use clap::ArgMatches;
use miro_api::{MiroApi, MultipartBody};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::fail::{code, Failure};
use crate::generated::commands::check_body;
use crate::output::{self, Format, ItemWriter};
use crate::table::{BodyKind, Command, Kind, Pagination, Param};

/// Settings every command shares.
pub struct Context {
    /// The output format.
    pub format: Format,
    /// No progress on stderr.
    pub quiet: bool,
    /// The API base URL (no trailing slash).
    pub base_url: String,
}

/// A request ready to go: what `--dry-run` prints and what is sent.
struct Prepared {
    method: &'static str,
    /// Path template (static: the table's, or a leaked user path for `miro api`).
    path: &'static str,
    args: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Body>,
    credits: Option<u32>,
}

enum Body {
    Json(String),
    Multipart {
        json_part: Option<(&'static str, String)>,
        files: Vec<(&'static str, std::path::PathBuf)>,
    },
}

/// The values of a flag as text, in order.
fn flag_values(m: &ArgMatches, p: &Param) -> Vec<String> {
    match p.kind {
        _ if !p.values.is_empty() => m
            .get_many::<String>(p.flag)
            .map(|v| v.cloned().collect())
            .unwrap_or_default(),
        Kind::Integer => m
            .get_many::<i64>(p.flag)
            .map(|v| v.map(|x| x.to_string()).collect())
            .unwrap_or_default(),
        Kind::Number => m
            .get_many::<f64>(p.flag)
            .map(|v| v.map(|x| x.to_string()).collect())
            .unwrap_or_default(),
        Kind::Boolean => m
            .get_many::<bool>(p.flag)
            .map(|v| v.map(|x| x.to_string()).collect())
            .unwrap_or_default(),
        _ => m
            .get_many::<String>(p.flag)
            .map(|v| v.cloned().collect())
            .unwrap_or_default(),
    }
}

/// A flag's value as the JSON value of a body field.
fn flag_json(m: &ArgMatches, p: &Param) -> Option<Value> {
    m.value_source(p.flag)?;
    Some(match p.kind {
        Kind::Integer if p.values.is_empty() => Value::from(*m.get_one::<i64>(p.flag)?),
        Kind::Number if p.values.is_empty() => Value::from(*m.get_one::<f64>(p.flag)?),
        Kind::Boolean => Value::from(*m.get_one::<bool>(p.flag)?),
        _ => {
            let text = m.get_one::<String>(p.flag)?;
            match p.kind {
                Kind::Integer | Kind::Number | Kind::Json => {
                    serde_json::from_str(text).unwrap_or(Value::String(text.clone()))
                }
                _ => Value::String(text.clone()),
            }
        }
    })
}

/// Reads `--body FILE` or `--body -` (stdin).
fn read_body(m: &ArgMatches) -> Result<Option<String>, Failure> {
    let Some(source) = m.get_one::<String>("body") else {
        return Ok(None);
    };
    let text = if source == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure::usage(format!("--body -: cannot read stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| Failure::usage(format!("--body {source}: {e}")))?
    };
    Ok(Some(text))
}

/// Sets `a.b.c` in `body` to `value`, creating objects on the way.
fn set_path(body: &mut Value, path: &str, value: Value) -> Result<(), Failure> {
    let mut target = body;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err(Failure::usage(format!("--set {path}: empty field name")));
        }
        if !target.is_object() {
            if target.is_null() {
                *target = Value::Object(Default::default());
            } else {
                return Err(Failure::usage(format!(
                    "--set {path}: `{}` is not an object",
                    parts[..i].join(".")
                )));
            }
        }
        let map = target.as_object_mut().expect("checked to be an object");
        if i + 1 == parts.len() {
            map.insert(part.to_string(), value);
            return Ok(());
        }
        target = map.entry(part.to_string()).or_insert(Value::Null);
    }
    Ok(())
}

/// The JSON body from `--body`, the body-field flags and `--set`; `None` when none was given.
/// With only `--body`, its text is kept as it is (sent byte for byte).
fn json_body(m: &ArgMatches, fields: &[Param]) -> Result<Option<String>, Failure> {
    let text = read_body(m)?;
    let sets: Vec<&String> = m
        .try_get_many::<String>("set")
        .ok()
        .flatten()
        .map(|v| v.collect())
        .unwrap_or_default();
    let flags: Vec<(&Param, Value)> = fields
        .iter()
        .filter_map(|p| flag_json(m, p).map(|v| (p, v)))
        .collect();
    if sets.is_empty() && flags.is_empty() {
        return Ok(text);
    }
    let mut body: Value = match &text {
        Some(t) => serde_json::from_str(t)
            .map_err(|e| Failure::usage(format!("the body is not JSON: {e}")))?,
        None => Value::Object(Default::default()),
    };
    for (p, v) in flags {
        set_path(&mut body, p.name, v)?;
    }
    for s in sets {
        let (path, raw) = s
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--set {s}: expected PATH=VALUE")))?;
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
        set_path(&mut body, path, value)?;
    }
    Ok(Some(body.to_string()))
}

fn refused(c: &Command, e: crate::body::BodyError) -> Failure {
    Failure::new(
        code::USAGE,
        format!("body refused, nothing sent ({} {}): {e}", c.area, c.action),
    )
}

/// The request of an operation command.
fn prepare(c: &'static Command, m: &ArgMatches) -> Result<Prepared, Failure> {
    let mut args = Vec::new();
    for p in c.path_params {
        let v = flag_values(m, p)
            .into_iter()
            .next()
            .ok_or_else(|| Failure::usage(format!("--{} is required", p.flag)))?;
        if v.is_empty() {
            return Err(Failure::usage(format!("--{} must not be empty", p.flag)));
        }
        args.push(v);
    }
    let mut query = Vec::new();
    for p in c.query_params {
        for v in flag_values(m, p) {
            query.push((p.name.to_string(), v));
        }
    }
    let no_check = switch(m, "no-check");
    let body = match c.body {
        BodyKind::None => None,
        BodyKind::Json { required } => {
            let text = match json_body(m, c.body_fields)? {
                Some(t) => Some(t),
                None if required => Some("{}".to_string()),
                None => None,
            };
            if let Some(t) = &text {
                if !no_check {
                    check_body(c.id, t).map_err(|e| refused(c, e))?;
                }
            }
            text.map(Body::Json)
        }
        BodyKind::Multipart => {
            let text = json_body(m, c.body_fields)?;
            if let Some(t) = &text {
                if !no_check {
                    check_body(c.id, t).map_err(|e| refused(c, e))?;
                }
            }
            let mut files = Vec::new();
            for f in c.file_parts {
                for path in m.get_many::<String>("file").into_iter().flatten() {
                    files.push((f.name, std::path::PathBuf::from(path)));
                }
            }
            Some(Body::Multipart {
                json_part: c.json_part.zip(text),
                files,
            })
        }
    };
    let credits = match (&body, c.credits_per_item) {
        (Some(Body::Json(t)), true) => serde_json::from_str::<Vec<&RawValue>>(t)
            .ok()
            .map(|items| c.credits.saturating_mul(items.len().max(1) as u32)),
        _ => None,
    };
    Ok(Prepared {
        method: c.http_method,
        path: c.path,
        args,
        query,
        body,
        credits,
    })
}

/// The URL a request goes to (for `--dry-run`): path segments percent-encoded as sent.
fn url_of(base: &str, p: &Prepared) -> String {
    let mut url = base.trim_end_matches('/').to_string();
    miro_api::runtime::push_path(&mut url, p.path, &p.args);
    if !p.query.is_empty() {
        let q: String = reqwest::Url::parse_with_params("http://x/", &p.query)
            .ok()
            .and_then(|u| u.query().map(str::to_string))
            .unwrap_or_default();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&q);
    }
    url
}

fn dry_run(ctx: &Context, p: &Prepared) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} {}", p.method, url_of(&ctx.base_url, p))?;
    match &p.body {
        None => {}
        Some(Body::Json(t)) => {
            let mut buf = Vec::new();
            output::reformat(t.as_bytes(), true, &mut buf);
            out.write_all(&buf)?;
            writeln!(out)?;
        }
        Some(Body::Multipart { json_part, files }) => {
            if let Some((name, t)) = json_part {
                writeln!(out, "part {name}: {t}")?;
            }
            for (name, path) in files {
                writeln!(out, "part {name}: file {}", path.display())?;
            }
        }
    }
    Ok(())
}

fn method_of(name: &str) -> Result<miro_api::Method, Failure> {
    miro_api::Method::from_bytes(name.to_ascii_uppercase().as_bytes())
        .map_err(|_| Failure::usage(format!("not an HTTP method: {name}")))
}

/// Sends a prepared request; the answer's raw body.
async fn send(api: &MiroApi, p: &Prepared) -> Result<Vec<u8>, Failure> {
    let mut req = api.request(method_of(p.method)?, p.path, &p.args);
    for (k, v) in &p.query {
        req = req.query(k, v);
    }
    if let Some(c) = p.credits {
        req = req.credits(c);
    }
    req = match &p.body {
        None => req,
        Some(Body::Json(t)) => {
            let raw = RawValue::from_string(t.clone())
                .map_err(|e| Failure::usage(format!("the body is not JSON: {e}")))?;
            req.json(&raw)
        }
        Some(Body::Multipart { json_part, files }) => {
            let mut mp = MultipartBody::new();
            if let Some((name, t)) = json_part {
                let raw = RawValue::from_string(t.clone())
                    .map_err(|e| Failure::usage(format!("the body is not JSON: {e}")))?;
                mp = mp.json(name, &raw)?;
            }
            for (name, path) in files {
                let bytes = std::fs::read(path)
                    .map_err(|e| Failure::usage(format!("--file {}: {e}", path.display())))?;
                let file_name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "file".into());
                let content_type = miro_api::FilePart::from_bytes(Vec::new(), file_name.clone())
                    .content_type()
                    .to_string();
                mp = mp.file(
                    name,
                    miro_api::FilePart::new(bytes, file_name, content_type),
                );
            }
            req.multipart(mp)
        }
    };
    let response = req.send::<serde::de::IgnoredAny>().await?;
    Ok(response.raw_body().to_vec())
}

/// One page of a list: its items and where the next one starts.
#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow, default)]
    data: Vec<&'a RawValue>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    offset: Option<u64>,
}

/// Walks every page from `p` (whose query holds the first page's `cursor` or `offset`, if
/// any), writing each item as it comes; the cursor to resume from goes to stderr.
async fn walk(
    api: &MiroApi,
    ctx: &Context,
    mut p: Prepared,
    kind: Option<Pagination>,
) -> Result<(), Failure> {
    let mut kind = kind;
    let mut writer = ItemWriter::new(ctx.format);
    let progress = !ctx.quiet && std::io::stderr().is_terminal();
    let mut offset: u64 = p
        .query
        .iter()
        .find(|(k, _)| k == "offset")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    loop {
        let body = match send(api, &p).await {
            Ok(b) => b,
            Err(mut f) => {
                let at = match kind {
                    Some(Pagination::Cursor) | None => p
                        .query
                        .iter()
                        .find(|(k, _)| k == "cursor")
                        .map(|(_, v)| format!("--cursor {v}")),
                    _ => Some(format!("--offset {offset}")),
                };
                if let Some(at) = at {
                    f.message.push_str(&format!(
                        " ({} items written; resume with {at})",
                        writer.count
                    ));
                }
                return Err(f);
            }
        };
        let page: Page = serde_json::from_slice(&body)
            .map_err(|e| Failure::other(format!("a page does not read as a list: {e}")))?;
        writer.page(&page.data)?;
        let n = page.data.len() as u64;
        // `miro api --paginate`: the first page tells the kind.
        let k = *kind.get_or_insert(if page.cursor.is_some() {
            Pagination::Cursor
        } else {
            Pagination::Offset
        });
        let next = match k {
            Pagination::Cursor => page.cursor.filter(|c| !c.is_empty()).map(|c| {
                p.query.retain(|(k, _)| k != "cursor");
                p.query.push(("cursor".into(), c.clone()));
                format!("--cursor {c}")
            }),
            _ => {
                offset = page.offset.unwrap_or(offset) + n;
                let more = n > 0 && page.total.is_none_or(|t| offset < t);
                more.then(|| {
                    p.query.retain(|(k, _)| k != "offset");
                    p.query.push(("offset".into(), offset.to_string()));
                    format!("--offset {offset}")
                })
            }
        };
        if progress {
            match &next {
                Some(at) => eprint!("\r\x1b[K{} items; next page: {at}", writer.count),
                None => eprintln!("\r\x1b[K{} items", writer.count),
            }
        }
        if next.is_none() {
            return Ok(());
        }
    }
}

/// Runs an operation command.
pub async fn operation(
    api: impl FnOnce() -> Result<MiroApi, Failure>,
    ctx: &Context,
    c: &'static Command,
    m: &ArgMatches,
) -> Result<(), Failure> {
    let mut p = prepare(c, m)?;
    let all = switch(m, "all");
    if all && !p.query.iter().any(|(k, _)| k == "limit") {
        if let Some(max) = miro_api::operations::find(c.id).and_then(|o| o.max_page_size) {
            p.query.push(("limit".into(), max.to_string()));
        }
    }
    if m.get_flag("dry-run") {
        return dry_run(ctx, &p);
    }
    let api = api()?;
    if all {
        return walk(&api, ctx, p, Some(c.pagination)).await;
    }
    let body = send(&api, &p).await?;
    output::write_answer(&body, ctx.format)?;
    Ok(())
}

/// Runs `miro api METHOD PATH`.
pub async fn api(
    api: impl FnOnce() -> Result<MiroApi, Failure>,
    ctx: &Context,
    m: &ArgMatches,
) -> Result<(), Failure> {
    let method = m.get_one::<String>("method").cloned().unwrap_or_default();
    let method = method_of(&method)?;
    let method: &'static str = match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        other => return Err(Failure::usage(format!("unsupported HTTP method {other}"))),
    };
    let raw_path = m.get_one::<String>("path").cloned().unwrap_or_default();
    let raw_path = match raw_path.strip_prefix(&ctx.base_url) {
        Some(rest) => rest.to_string(),
        None => raw_path,
    };
    if !raw_path.starts_with('/') {
        return Err(Failure::usage(format!(
            "the path must start with /: {raw_path}"
        )));
    }
    let (path, query_text) = raw_path.split_once('?').unwrap_or((&raw_path, ""));
    if path.contains(['{', '}']) {
        return Err(Failure::usage("the path has a `{` or `}`: fill in its ids"));
    }
    let mut query: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x/?{query_text}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    for q in m.get_many::<String>("query").into_iter().flatten() {
        let (k, v) = q
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--query {q}: expected NAME=VALUE")))?;
        query.push((k.to_string(), v.to_string()));
    }
    // The raw request API takes a 'static template; one per process.
    let path: &'static str = Box::leak(path.to_string().into_boxed_str());
    let body = json_body(m, &[])?;
    let p = Prepared {
        method,
        path,
        args: Vec::new(),
        query,
        body: body.map(Body::Json),
        credits: None,
    };
    if m.get_flag("dry-run") {
        return dry_run(ctx, &p);
    }
    let api = api()?;
    if m.get_flag("paginate") {
        return walk(&api, ctx, p, None).await;
    }
    let body = send(&api, &p).await?;
    output::write_answer(&body, ctx.format)?;
    Ok(())
}

/// A switch only some commands define (`--all` on paginated ones, `--no-check` on those with a
/// body): off where the command has none (`ArgMatches::get_flag` panics on an undefined one).
fn switch(m: &ArgMatches, name: &str) -> bool {
    m.try_get_one::<bool>(name)
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_builds_nested_objects() {
        let mut v = serde_json::json!({"data": {"shape": "circle"}});
        set_path(&mut v, "data.content", Value::from("Hi")).unwrap();
        set_path(&mut v, "position.x", Value::from(10)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"data": {"shape": "circle", "content": "Hi"}, "position": {"x": 10}})
        );
        assert!(set_path(&mut v, "data.content.x", Value::from(1)).is_err());
    }

    #[test]
    fn dry_run_urls_encode_ids() {
        let p = Prepared {
            method: "GET",
            path: "/v2/boards/{board_id}",
            args: vec!["a/b c=".into()],
            query: vec![("q".into(), "x y".into())],
            body: None,
            credits: None,
        };
        assert_eq!(
            url_of("http://h/", &p),
            "http://h/v2/boards/a%2Fb%20c%3D?q=x+y"
        );
    }
}
