//! Offset and cursor paging, with page bodies assembled from pre-serialized items.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::ids::parse_numeric;
use crate::routes::Query;

/// Bounds of `limit` for offset lists.
pub(crate) const OFFSET_LIMITS: (usize, usize, usize) = (1, 50, 20);
/// Bounds of `limit` for board-level cursor lists.
pub(crate) const CURSOR_LIMITS: (usize, usize, usize) = (10, 50, 10);

/// Parses `limit` within `(min, max, default)`.
pub(crate) fn limit(q: &Query, (min, max, default): (usize, usize, usize)) -> ApiResult<usize> {
    match q.get("limit") {
        None => Ok(default),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::fields(vec![crate::error::FieldError::new(
                "limit",
                format!("must be an integer between {min} and {max}"),
            )])),
        },
    }
}

/// Parses `offset` (a non-negative integer, default 0).
pub(crate) fn offset(q: &Query) -> ApiResult<usize> {
    match q.get("offset") {
        None => Ok(0),
        Some(s) => s.trim().parse::<usize>().map_err(|_| {
            ApiError::fields(vec![crate::error::FieldError::new(
                "offset",
                "must be a non-negative integer",
            )])
        }),
    }
}

/// Parses `cursor`: the id the page starts at.
pub(crate) fn cursor(q: &Query) -> ApiResult<Option<u64>> {
    match q.get("cursor") {
        None | Some("") => Ok(None),
        Some(s) => parse_numeric(s).map(Some).ok_or_else(|| {
            ApiError::fields(vec![crate::error::FieldError::new(
                "cursor",
                "invalid cursor",
            )])
        }),
    }
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Strings here are URLs and ids; serde_json escapes anything unusual.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn link(app: &App, path: &str, query: &[(&str, String)]) -> String {
    let mut url = app.url(path);
    if !query.is_empty() {
        url.push('?');
        url.push_str(&serde_urlencoded::to_string(query).unwrap_or_default());
    }
    url
}

fn push_data(out: &mut Vec<u8>, data: &[Bytes]) {
    out.extend_from_slice(b"{\"data\":[");
    for (i, d) in data.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(d);
    }
    out.push(b']');
}

fn respond(out: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response()
}

/// An offset page: `{data, total, size, offset, limit, links, type:"list"}`.
///
/// `filters` are the query parameters to repeat in the links.
pub(crate) fn offset_page(
    app: &App,
    path: &str,
    filters: &[(&str, String)],
    total: usize,
    offset: usize,
    limit: usize,
    data: &[Bytes],
) -> Response {
    let at = |o: usize| {
        let mut q: Vec<(&str, String)> = filters.to_vec();
        q.push(("limit", limit.to_string()));
        q.push(("offset", o.to_string()));
        link(app, path, &q)
    };
    let last = if total == 0 {
        0
    } else {
        (total - 1) / limit * limit
    };
    let mut out = Vec::with_capacity(256 + data.iter().map(Bytes::len).sum::<usize>());
    push_data(&mut out, data);
    out.extend_from_slice(
        format!(
            ",\"total\":{total},\"size\":{},\"offset\":{offset},\"limit\":{limit},\"links\":{{\"self\":",
            data.len()
        )
        .as_bytes(),
    );
    push_json_str(&mut out, &at(offset));
    out.extend_from_slice(b",\"first\":");
    push_json_str(&mut out, &at(0));
    out.extend_from_slice(b",\"last\":");
    push_json_str(&mut out, &at(last));
    if offset + limit < total {
        out.extend_from_slice(b",\"next\":");
        push_json_str(&mut out, &at(offset + limit));
    }
    if offset > 0 {
        out.extend_from_slice(b",\"prev\":");
        push_json_str(&mut out, &at(offset.saturating_sub(limit)));
    }
    out.extend_from_slice(b"},\"type\":\"list\"}");
    respond(out)
}

/// A cursor page: `{data, total, size, cursor?, limit, links{self, next?}, type:"cursor-list"}`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cursor_page(
    app: &App,
    path: &str,
    filters: &[(&str, String)],
    total: usize,
    limit: usize,
    request_cursor: Option<u64>,
    next: Option<u64>,
    data: &[Bytes],
) -> Response {
    let at = |c: Option<u64>| {
        let mut q: Vec<(&str, String)> = filters.to_vec();
        q.push(("limit", limit.to_string()));
        if let Some(c) = c {
            q.push(("cursor", c.to_string()));
        }
        link(app, path, &q)
    };
    let mut out = Vec::with_capacity(256 + data.iter().map(Bytes::len).sum::<usize>());
    push_data(&mut out, data);
    out.extend_from_slice(format!(",\"total\":{total},\"size\":{}", data.len()).as_bytes());
    if let Some(n) = next {
        out.extend_from_slice(format!(",\"cursor\":\"{n}\"").as_bytes());
    }
    out.extend_from_slice(format!(",\"limit\":{limit},\"links\":{{\"self\":").as_bytes());
    push_json_str(&mut out, &at(request_cursor));
    if next.is_some() {
        out.extend_from_slice(b",\"next\":");
        push_json_str(&mut out, &at(next));
    }
    // Live cursor pages say what they are (the spec does not list it).
    out.extend_from_slice(b"},\"type\":\"cursor-list\"}");
    respond(out)
}

/// Takes one cursor page from ids in ascending order: the page's entries and
/// the cursor of the next page.
pub(crate) fn take_cursor_page<'a, T: 'a>(
    iter: impl Iterator<Item = (u64, &'a T)>,
    limit: usize,
) -> (Vec<&'a T>, Option<u64>) {
    let mut page = Vec::with_capacity(limit);
    for (id, v) in iter {
        if page.len() == limit {
            return (page, Some(id));
        }
        page.push(v);
    }
    (page, None)
}
