//! The operations of the pinned spec, from generated data: which operation a
//! request is, what it costs, and its documented success answer.
//!
//! Two generated tables are joined here: the operations table (the same text
//! as `miro-api/src/generated/operations.rs`, which miro-api-gen also writes
//! into this crate as `generated/operations.rs`, so the emulator neither
//! depends on the client nor reaches outside its package) for the rate-limit
//! credits, and `generated/spec_responses.rs` (emitted by
//! miro-api-gen for the emulator) for the success status and a body valid
//! against the success schema.

#[allow(dead_code)]
#[rustfmt::skip]
#[path = "generated/operations.rs"]
mod operations;

#[rustfmt::skip]
#[path = "generated/spec_responses.rs"]
mod spec_responses;

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

/// One operation as the emulator uses it.
#[derive(Debug)]
pub(crate) struct SpecOp {
    /// The operationId.
    pub id: &'static str,
    /// Upper-case HTTP method.
    pub method: &'static str,
    /// The wire path template, e.g. `/v2/orgs/{org_id}/teams`.
    pub path: &'static str,
    /// Credits one call costs.
    pub credits: u64,
    /// The documented success status.
    pub status: u16,
    /// The success body, if any.
    pub body: Option<Bytes>,
    required_query: &'static [&'static str],
    /// `Some(literal)` or `None` for a parameter, per path segment.
    segments: Vec<Option<&'static str>>,
    literals: usize,
}

/// The operations, indexed by the number of path segments.
#[derive(Debug)]
pub(crate) struct Index {
    ops: Vec<SpecOp>,
    by_len: HashMap<usize, Vec<usize>>,
}

/// The process-wide index.
pub(crate) fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(Index::new)
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.trim_end_matches('/');
    trimmed.split('/').skip(1)
}

/// Decodes `%XX` escapes of a path segment (only needed to compare literals).
fn decode(segment: &str) -> std::borrow::Cow<'_, str> {
    if !segment.contains('%') {
        return segment.into();
    }
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned().into()
}

impl Index {
    fn new() -> Self {
        let mut ops = Vec::with_capacity(spec_responses::SPEC_RESPONSES.len());
        for r in spec_responses::SPEC_RESPONSES.iter() {
            let credits = operations::OPERATIONS
                .iter()
                .find(|o| o.id == r.id)
                .map_or(if r.method == "GET" { 50 } else { 100 }, |o| {
                    u64::from(o.credits)
                });
            let segments: Vec<Option<&'static str>> = split(r.path)
                .map(|s| (!s.starts_with('{')).then_some(s))
                .collect();
            ops.push(SpecOp {
                id: r.id,
                method: r.method,
                path: r.path,
                credits,
                status: r.status,
                body: r.body.map(|b| Bytes::from_static(b.as_bytes())),
                required_query: r.required_query,
                literals: segments.iter().filter(|s| s.is_some()).count(),
                segments,
            });
        }
        let mut by_len: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            by_len.entry(op.segments.len()).or_default().push(i);
        }
        Index { ops, by_len }
    }

    /// The operations whose path template matches a raw (percent-encoded) path.
    fn matching(&self, path: &str) -> Vec<&SpecOp> {
        let segs: Vec<&str> = split(path).collect();
        self.by_len
            .get(&segs.len())
            .into_iter()
            .flatten()
            .map(|i| &self.ops[*i])
            .filter(|op| {
                op.segments.iter().zip(&segs).all(|(t, s)| match t {
                    None => !s.is_empty(),
                    Some(lit) => decode(s) == *lit,
                })
            })
            .collect()
    }

    /// The operation a request is: the most specific path template (most literal
    /// segments), then the one whose required query parameters are all present
    /// (the most of them), e.g. `DELETE .../items/{item_id}?tag_id=` is
    /// removing a tag, not deleting the item.
    pub(crate) fn find(&self, method: &str, path: &str, query: Option<&str>) -> Option<&SpecOp> {
        let keys: Vec<&str> = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
            .collect();
        self.matching(path)
            .into_iter()
            .filter(|op| op.method == method)
            .max_by_key(|op| {
                let satisfied = op.required_query.iter().all(|q| keys.contains(q));
                let rank = if satisfied {
                    op.required_query.len() as i64
                } else {
                    -1
                };
                (op.literals, rank)
            })
    }

    /// The methods the spec has for a path (empty when the path is unknown).
    pub(crate) fn methods_for(&self, path: &str) -> Vec<&'static str> {
        let mut m: Vec<&'static str> = self.matching(path).iter().map(|op| op.method).collect();
        m.sort_unstable();
        m.dedup();
        m
    }

    /// Every operation.
    #[cfg(test)]
    pub(crate) fn all(&self) -> &[SpecOp] {
        &self.ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tables_list_the_same_operations() {
        assert_eq!(
            operations::OPERATIONS.len(),
            spec_responses::SPEC_RESPONSES.len()
        );
        for (o, r) in operations::OPERATIONS
            .iter()
            .zip(spec_responses::SPEC_RESPONSES.iter())
        {
            assert_eq!(o.id, r.id);
            assert_eq!(o.http_method, r.method);
            assert_eq!(o.path.trim_end_matches('?'), r.path);
        }
    }

    #[test]
    fn every_operation_is_found_by_its_own_path() {
        let idx = index();
        for op in idx.all() {
            let path: String = op
                .segments
                .iter()
                .map(|s| format!("/{}", s.unwrap_or("x%3D1")))
                .collect();
            let query: Vec<String> = op.required_query.iter().map(|q| format!("{q}=1")).collect();
            let found = idx
                .find(op.method, &path, Some(&query.join("&")))
                .expect(op.id);
            assert_eq!(found.path, op.path, "{}", op.id);
            assert_eq!(found.method, op.method);
            // Operations sharing a path and method differ by their required query.
            if found.id != op.id {
                assert!(found.required_query.len() >= op.required_query.len());
            }
        }
    }

    #[test]
    fn requests_pick_the_operation() {
        let idx = index();
        let del = |q| {
            idx.find("DELETE", "/v2/boards/uX%3D/items/3458764500000000001", q)
                .unwrap()
                .id
        };
        assert_eq!(del(None), "delete-item");
        assert_eq!(del(Some("tag_id=1")), "remove-tag-from-item");
        assert_eq!(
            idx.find("POST", "/v2/boards/b/items/bulk", None)
                .unwrap()
                .id,
            "create-items"
        );
        assert_eq!(
            idx.find("GET", "/v2/boards/b/items", Some("tag_id=3"))
                .unwrap()
                .id,
            "get-items-by-tag"
        );
        assert_eq!(
            idx.find("GET", "/v2/boards/b/items", None).unwrap().id,
            "get-items"
        );
        assert!(idx.find("GET", "/v2/nothing", None).is_none());
        assert_eq!(idx.methods_for("/v2/boards"), ["GET", "POST", "PUT"]);
        assert_eq!(idx.find("PUT", "/v2/boards", None).unwrap().credits, 2000);
        assert_eq!(decode("uX%3D"), "uX=");
    }
}
