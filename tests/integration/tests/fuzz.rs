//! Fuzzing, bounded in cases and time: mutated spec examples decoded with every decoding type,
//! and every operation called against a local server answering mutated bodies, statuses and
//! rate-limit headers. Nothing may panic; any `Result` is fine.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use miro_api::operations::OPERATIONS;
use miro_api::{MiroApi, RetryPolicy};
use miro_api_gen::synth::Synth;
use miro_tests::all_operations::{call, Args};
use miro_tests::scripted::{Answer, ScriptedServer};
use miro_tests::spec_examples::EXAMPLES;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Wall-clock budget of each fuzz test; cases past it are skipped.
const BUDGET: Duration = Duration::from_secs(20);

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One change to a JSON document.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the node at this walk position with a value.
    Replace(usize, Value),
    /// Remove the key or element at this walk position.
    Remove(usize),
    /// Add an unknown field to the object at this walk position.
    AddField(usize, String, Value),
    /// Cut the serialized text at this fraction of its length.
    Truncate(f64),
    /// Overwrite one byte of the serialized text.
    Byte(usize, u8),
}

fn odd_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(json!("2024-13-45T99:99:99Z")),
        Just(json!("")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), odd_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => any::<usize>().prop_map(Mutation::Remove),
        1 => (any::<usize>(), "[a-zA-Z]{1,10}", odd_value())
            .prop_map(|(i, k, v)| Mutation::AddField(i, k, v)),
        1 => (0.0..1.0f64).prop_map(Mutation::Truncate),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
    ]
}

/// How many nodes a walk of `v` visits.
fn nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(nodes).sum(),
        Value::Object(o) => o.values().map(nodes).sum(),
        _ => 0,
    }
}

/// The node at walk position `i` (pre-order), and its parent's key.
fn node_mut(v: &mut Value, i: &mut usize) -> Option<*mut Value> {
    if *i == 0 {
        return Some(v as *mut Value);
    }
    *i -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|c| node_mut(c, i)),
        Value::Object(o) => o.values_mut().find_map(|c| node_mut(c, i)),
        _ => None,
    }
}

/// Removes the child at walk position `i` (never the root).
fn remove_at(v: &mut Value, i: &mut usize) -> bool {
    match v {
        Value::Array(a) => {
            for k in 0..a.len() {
                if *i == 0 {
                    a.remove(k);
                    return true;
                }
                *i -= 1;
                if remove_at(&mut a[k], i) {
                    return true;
                }
            }
            false
        }
        Value::Object(o) => {
            let keys: Vec<String> = o.keys().cloned().collect();
            for k in keys {
                if *i == 0 {
                    o.remove(&k);
                    return true;
                }
                *i -= 1;
                if remove_at(o.get_mut(&k).unwrap(), i) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

/// Applies mutations; returns the body's bytes.
fn mutate(mut v: Value, mutations: &[Mutation]) -> Vec<u8> {
    let mut tail: Vec<&Mutation> = Vec::new();
    for m in mutations {
        let n = nodes(&v);
        match m {
            Mutation::Replace(i, new) => {
                let mut i = i % n;
                if let Some(p) = node_mut(&mut v, &mut i) {
                    // SAFETY: the pointer comes from `v`, borrowed mutably for this statement only.
                    unsafe { *p = new.clone() };
                }
            }
            Mutation::Remove(i) => {
                let mut i = i % n;
                remove_at(&mut v, &mut i);
            }
            Mutation::AddField(i, key, new) => {
                let mut i = i % n;
                if let Some(p) = node_mut(&mut v, &mut i) {
                    // SAFETY: as above.
                    if let Value::Object(o) = unsafe { &mut *p } {
                        o.insert(key.clone(), new.clone());
                    }
                }
            }
            Mutation::Truncate(_) | Mutation::Byte(..) => tail.push(m),
        }
    }
    let mut bytes = serde_json::to_vec(&v).unwrap();
    for m in tail {
        match m {
            Mutation::Truncate(f) => bytes.truncate((bytes.len() as f64 * f) as usize),
            Mutation::Byte(i, b) if !bytes.is_empty() => {
                let at = i % bytes.len();
                bytes[at] = *b;
            }
            _ => {}
        }
    }
    bytes
}

#[test]
fn mutated_spec_examples_never_panic_the_decoders() {
    // The examples table points into the fixed spec (paths moved by fixes included).
    let (spec, _) = miro_api_gen::fixed_spec(&miro_tests::pinned_spec()).unwrap();
    let examples: Vec<(usize, Value)> = EXAMPLES
        .iter()
        .enumerate()
        .map(|(i, e)| (i, spec.pointer(e.pointer).unwrap().clone()))
        .collect();
    let started = Instant::now();
    let strategy = (0..examples.len(), prop::collection::vec(mutation(), 1..6));
    proptest!(config(3_000), |((index, mutations) in strategy)| {
        if started.elapsed() > BUDGET {
            return Ok(());
        }
        let (i, example) = &examples[index];
        let bytes = mutate(example.clone(), &mutations);
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            let _ = (EXAMPLES[*i].decode)(&value);
        }
    });
}

/// Every operation's documented success body, synthesized from the spec's examples.
fn success_bodies() -> BTreeMap<&'static str, Value> {
    let (fixed, _) = miro_api_gen::fixed_spec(&miro_tests::pinned_spec()).unwrap();
    let mut synth = Synth::new(&fixed);
    let mut out = BTreeMap::new();
    for item in fixed["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let Some(entry) = OPERATIONS.iter().find(|o| o.id == id) else {
                continue;
            };
            let schema = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(code, _)| code.starts_with('2'))
                .find_map(|(_, r)| r.pointer("/content/application~1json/schema"));
            let body = schema.map_or(Value::Null, |s| synth.value(s, None));
            out.insert(entry.id, body);
        }
    }
    out
}

/// A header value: a number, a huge or negative one, a date, garbage or nothing.
fn header_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        (0u64..100_000).prop_map(|n| Some(n.to_string())),
        any::<u64>().prop_map(|n| Some(n.to_string())),
        any::<i64>().prop_map(|n| Some(n.to_string())),
        Just(Some("Sun, 06 Nov 1994 08:49:37 GMT".to_string())),
        Just(Some("Fri, 31 Dec 9999 23:59:59 GMT".to_string())),
        Just(Some("Sunday, 06-Nov-94 08:49:37 GMT".to_string())),
        Just(Some("Sun Nov  6 08:49:37 1994".to_string())),
        "[ -~]{0,24}".prop_map(Some),
    ]
}

#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    limit: Option<String>,
    remaining: Option<String>,
    reset: Option<String>,
    retry_after: Option<String>,
    mutations: Vec<Mutation>,
}

fn reply() -> impl Strategy<Value = Reply> {
    (
        prop_oneof![6 => Just(200u16), 1 => Just(201), 1 => Just(204), 2 => Just(429), 1 => Just(500), 1 => Just(404)],
        header_value(),
        header_value(),
        header_value(),
        header_value(),
        prop::collection::vec(mutation(), 0..4),
    )
        .prop_map(|(status, limit, remaining, reset, retry_after, mutations)| Reply {
            status,
            limit,
            remaining,
            reset,
            retry_after,
            mutations,
        })
}

/// The next answer: status, headers and body.
type Next = (u16, Vec<(String, String)>, String);

#[test]
fn every_operation_survives_mutated_answers_and_rate_limit_headers() {
    let bodies = success_bodies();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // What the server answers next: status, headers and body.
    let next: Arc<Mutex<Next>> = Arc::new(Mutex::new((200, Vec::new(), "{}".into())));
    let server = {
        let next = next.clone();
        rt.block_on(ScriptedServer::start(move |_, _| {
            let (status, headers, body) = next.lock().unwrap().clone();
            Answer {
                status,
                content_type: "application/json",
                headers,
                body,
            }
        }))
    };
    let http = miro_api::http_client_builder().build().unwrap();
    let started = Instant::now();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let strategy = (0..OPERATIONS.len(), prop::collection::vec(reply(), 1..3));
    proptest!(config(1_500), |((index, replies) in strategy)| {
        if started.elapsed() > BUDGET {
            return Ok(());
        }
        let op = &OPERATIONS[index];
        // A fresh budget per case: a spent window must not starve the others.
        let api = MiroApi::builder()
            .base_url(server.base_url())
            .access_token("t")
            .http_client(http.clone())
            .timeout(Duration::from_millis(300))
            .retry_policy(
                RetryPolicy::new()
                    .max_attempts(2)
                    .backoff(Duration::from_millis(1), Duration::from_millis(5)),
            )
            .build();
        let args = op
            .path_params
            .iter()
            .fold(Args::default(), |a, name| a.path(name, "id1"));
        for reply in &replies {
            let body = mutate(bodies.get(op.id).cloned().unwrap_or(Value::Null), &reply.mutations);
            let headers = [
                ("x-ratelimit-limit", &reply.limit),
                ("x-ratelimit-remaining", &reply.remaining),
                ("x-ratelimit-reset", &reply.reset),
                ("retry-after", &reply.retry_after),
            ]
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.clone()?)))
            .collect();
            *next.lock().unwrap() = (reply.status, headers, String::from_utf8_lossy(&body).into_owned());
            let _ = rt.block_on(call(&api, op, &args));
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let calls = calls.into_inner();
    assert!(calls > 100, "only {calls} calls in the time budget");
    eprintln!("{calls} calls in {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Decoding: the spec's examples and the live corpus, mutated by a seeded generator, decoded as
// their operations' types plainly (serde), strictly and tolerantly.
//
// `MIRO_FUZZ_CASES` sets the number of mutated bodies (default 5,000, about 8 s in a debug
// build), `MIRO_FUZZ_SEED` the seed (default 29) and `MIRO_FUZZ_SECONDS` the time budget
// (default 20; past it, cases are cut).

/// SplitMix64: a small seeded generator, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A value of another kind than `like` (or a look-alike: a number as a string, ...).
fn wrong_kind(rng: &mut Rng, like: &Value) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(rng.chance(2)),
        2 => json!(rng.next() as i64),
        3 => json!((rng.next() % 1000) as f64 + 0.5),
        4 => json!("x"),
        5 => json!(""),
        6 => json!([]),
        7 => json!({}),
        8 => json!({"id": 1}),
        9 => match like {
            Value::Number(n) => Value::from(n.to_string()),
            Value::String(s) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(json!(7), Value::Number),
            Value::Bool(b) => Value::from(b.to_string()),
            other => json!([other.clone()]),
        },
        10 => json!("2024-13-45T99:99:99Z"),
        _ => Value::from("q".repeat(300 + rng.below(3000))),
    }
}

/// The walk position (pre-order) of a random node, preferring nodes inside list items.
fn pick(rng: &mut Rng, v: &Value) -> usize {
    rng.below(nodes(v))
}

/// A duplicate key to write into the object at walk position `object`: an existing key again
/// (with `value`), before or after the original.
struct DupPlan {
    object: usize,
    which: usize,
    value: Value,
    before: bool,
}

/// Writes `v` as JSON, adding the planned duplicate key.
fn write_json(v: &Value, plan: Option<&DupPlan>, position: &mut usize, out: &mut String) {
    let here = *position;
    *position += 1;
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, plan, position, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let dup = plan.filter(|p| p.object == here && !map.is_empty());
            let dup_key = dup.map(|p| map.keys().nth(p.which % map.len()).unwrap().clone());
            let mut first = true;
            let mut entry = |out: &mut String, k: &str, write: &mut dyn FnMut(&mut String)| {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&Value::from(k).to_string());
                out.push(':');
                write(out);
            };
            for (k, child) in map {
                let is_dup = dup_key.as_deref() == Some(k.as_str());
                let extra = |out: &mut String| out.push_str(&dup.unwrap().value.to_string());
                if is_dup && dup.unwrap().before {
                    entry(out, k, &mut { extra });
                }
                entry(out, k, &mut |out: &mut String| {
                    write_json(child, plan, position, out)
                });
                if is_dup && !dup.unwrap().before {
                    entry(out, k, &mut { extra });
                }
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A mutated body of `original`: wrong kinds, removed and added keys, a duplicate key.
fn mutated_body(rng: &mut Rng, original: &Value) -> Vec<u8> {
    let mut v = original.clone();
    let mut plan = None;
    for _ in 0..1 + rng.below(4) {
        let n = nodes(&v);
        match rng.below(10) {
            0..=4 => {
                let mut i = pick(rng, &v).max(usize::from(n > 1));
                if let Some(p) = node_mut(&mut v, &mut i) {
                    // SAFETY: the pointer comes from `v`, borrowed mutably for this statement only.
                    let like = unsafe { (*p).clone() };
                    let new = wrong_kind(rng, &like);
                    unsafe { *p = new };
                }
            }
            5 | 6 => {
                let mut i = pick(rng, &v);
                remove_at(&mut v, &mut i);
            }
            7 => {
                let mut i = pick(rng, &v);
                if let Some(p) = node_mut(&mut v, &mut i) {
                    // SAFETY: as above.
                    if let Value::Object(o) = unsafe { &mut *p } {
                        o.insert(format!("unknown{}", rng.below(100)), json!({"a": [1, "b"]}));
                    }
                }
            }
            _ => {
                let like = Value::Null;
                plan = Some(DupPlan {
                    object: pick(rng, &v),
                    which: rng.below(16),
                    value: if rng.chance(2) {
                        wrong_kind(rng, &like)
                    } else {
                        json!("duplicate")
                    },
                    before: rng.chance(2),
                });
            }
        }
    }
    // The plan names an object by walk position; any other node means no duplicate.
    let mut out = String::new();
    write_json(&v, plan.as_ref(), &mut 0, &mut out);
    out.into_bytes()
}

/// What the decode fuzz saw.
#[derive(Debug, Default)]
struct Figures {
    bodies: usize,
    serde_ok: usize,
    strict_errors: usize,
    strict_duplicate_errors: usize,
    tolerant_ok: usize,
    tolerant_errors: usize,
    items_dropped: usize,
    fields_absent: usize,
    duplicate_warnings: usize,
    over_http: usize,
}

/// Checks one body as `T`; for a page, `list` names its list of `I` items.
fn check_body<T, I>(bytes: &[u8], list: Option<&str>, figures: &mut Figures)
where
    T: serde::de::DeserializeOwned + serde::Serialize,
    I: serde::de::DeserializeOwned + serde::Serialize,
{
    use miro_api::decode::{from_slice, DecodeWarningKind};
    let text = String::from_utf8_lossy(bytes);
    figures.bodies += 1;
    let plain = serde_json::from_slice::<T>(bytes);
    let strict = from_slice::<T>(bytes, true);
    let tolerant = from_slice::<T>(bytes, false);
    // Strict is serde, or an error (a duplicate key serde let through).
    match (&plain, &strict) {
        (Ok(p), Ok((s, warnings))) => {
            figures.serde_ok += 1;
            assert!(warnings.is_empty());
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::to_value(s).unwrap(),
                "strict differs from serde: {text}"
            );
        }
        (Ok(_), Err(e)) => {
            figures.strict_errors += 1;
            figures.strict_duplicate_errors += 1;
            assert!(e.to_string().contains("duplicate key"), "{e}: {text}");
        }
        (Err(_), Ok(_)) => panic!("strict accepts what serde refuses: {text}"),
        (Err(_), Err(e)) => {
            figures.strict_errors += 1;
            if e.is_data() {
                assert_ne!(e.line(), 0, "{e}: {text}");
            }
        }
    }
    // Tolerant decodes what serde decodes, as serde does.
    if let Ok(p) = &plain {
        let (t, warnings) = tolerant.as_ref().expect("tolerant decodes what serde does");
        assert!(warnings.is_empty());
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            serde_json::to_value(t).unwrap()
        );
    }
    let (t, warnings) = match tolerant {
        Ok(ok) => {
            figures.tolerant_ok += 1;
            ok
        }
        Err(e) => {
            figures.tolerant_errors += 1;
            if e.is_data() {
                assert_ne!(e.line(), 0, "{e}: {text}");
            }
            return;
        }
    };
    for w in &warnings {
        assert!(w.message.chars().count() <= 1_000, "{}", w.message);
        match w.kind {
            DecodeWarningKind::ItemDropped { .. } => figures.items_dropped += 1,
            DecodeWarningKind::FieldAbsent => figures.fields_absent += 1,
            DecodeWarningKind::DuplicateKey => figures.duplicate_warnings += 1,
            _ => {}
        }
    }
    // Never is a list item left out that decodes on its own; those kept are as serde decodes
    // them alone.
    let Some(list) = list else { return };
    let Ok(received) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let Some(items) = received.get(list).and_then(Value::as_array) else {
        return;
    };
    let kept = serde_json::to_value(&t).unwrap();
    let kept = kept
        .get(list)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let dropped: Vec<usize> = warnings
        .iter()
        .filter_map(|w| match w.kind {
            DecodeWarningKind::ItemDropped { index } if w.path == format!("{list}[{index}]") => {
                Some(index)
            }
            _ => None,
        })
        .collect();
    let mut next = kept.iter();
    for (i, item) in items.iter().enumerate() {
        let alone = serde_json::to_vec(item).unwrap();
        if dropped.contains(&i) {
            assert!(
                from_slice::<I>(&alone, false).is_err(),
                "item {i} was left out but decodes on its own: {item}"
            );
            continue;
        }
        let got = next.next().expect("one kept item per item not left out");
        if let Ok(own) = serde_json::from_slice::<I>(&alone) {
            assert_eq!(
                &serde_json::to_value(own).unwrap(),
                got,
                "item {i} is not decoded as it decodes alone"
            );
        }
    }
}

type Checker = fn(&[u8], &mut Figures);

/// The response type of each operation the corpus and the examples have, and for pages their
/// list and item type.
fn checkers() -> Vec<(&'static str, Checker)> {
    use miro_api::types::*;
    macro_rules! one {
        ($t:ty) => {
            |b: &[u8], f: &mut Figures| check_body::<$t, Value>(b, None, f)
        };
    }
    macro_rules! page {
        ($t:ty, $list:literal, $i:ty) => {
            |b: &[u8], f: &mut Figures| check_body::<$t, $i>(b, Some($list), f)
        };
    }
    vec![
        ("create-board", one!(BoardWithLinks)),
        ("update-board", one!(BoardWithLinks)),
        ("get-specific-board", one!(BoardWithLinksAndLastOpened)),
        ("create-frame-item", one!(FrameItem)),
        ("get-frame-item", one!(FrameItem)),
        ("update-frame-item", one!(FrameItem)),
        ("create-shape-item", one!(ShapeItem)),
        ("get-shape-item", one!(ShapeItem)),
        ("create-sticky-note-item", one!(StickyNoteItem)),
        ("get-sticky-note-item", one!(StickyNoteItem)),
        ("update-sticky-note-item", one!(StickyNoteItem)),
        ("createGroup", one!(GroupResponseShort)),
        ("get-app-card-item", one!(AppCardItem)),
        ("get-card-item", one!(CardItem)),
        ("get-connector", one!(ConnectorWithLinks)),
        ("get-document-item", one!(DocumentItem)),
        ("get-embed-item", one!(EmbedItem)),
        ("get-image-item", one!(ImageItem)),
        ("get-text-item", one!(TextItem)),
        ("get-specific-item", one!(GenericItem)),
        ("get-specific-board-member", one!(BoardMember)),
        ("get-tag", one!(TagWithLinks)),
        ("token-info", one!(TokenInformation)),
        (
            "enterprise-get-audit-logs",
            page!(AuditPage, "data", AuditEvent),
        ),
        (
            "get-board-members",
            page!(BoardMembersPagedResponse, "data", BoardMember),
        ),
        ("get-boards", page!(BoardsPagedResponse, "data", Board)),
        (
            "get-connectors",
            page!(ConnectorsCursorPaged, "data", ConnectorWithLinks),
        ),
        (
            "get-items",
            page!(GenericItemCursorPaged, "data", GenericItem),
        ),
        (
            "get-items-within-frame",
            page!(GenericItemCursorPaged, "data", GenericItem),
        ),
        (
            "get-items-by-tag",
            page!(ItemPagedResponse, "data", GenericItem),
        ),
        ("get-tags-from-board", page!(TagsPagedResponse, "data", Tag)),
        ("get-tags-from-item", page!(GetTagsResponse, "tags", Tag)),
    ]
}

/// The bodies to mutate: every live corpus body of a 2xx and every response example of the
/// spec, of the operations [`checkers`] knows.
fn decode_seeds() -> Vec<(Checker, Value)> {
    let table = checkers();
    let find = |op: &str| table.iter().find(|(o, _)| *o == op).map(|(_, c)| *c);
    let mut seeds = Vec::new();
    let dir = miro_tests::live_corpus();
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    for entry in index["bodies"].as_array().unwrap() {
        let status = entry["status"].as_u64().unwrap();
        if !(200..300).contains(&status) || entry.get("decode_as").is_some_and(|d| !d.is_null()) {
            continue;
        }
        let Some(check) = find(entry["operation"].as_str().unwrap()) else {
            continue;
        };
        let file = dir.join("bodies").join(entry["file"].as_str().unwrap());
        let body: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        seeds.push((check, body));
    }
    let (spec, _) = miro_api_gen::fixed_spec(&miro_tests::pinned_spec()).unwrap();
    for example in EXAMPLES
        .iter()
        .filter(|e| e.kind == miro_tests::spec_examples::Kind::Response)
    {
        if let (Some(check), Some(body)) = (find(example.operation), spec.pointer(example.pointer))
        {
            seeds.push((check, body.clone()));
        }
    }
    seeds
}

#[test]
fn mutated_bodies_decode_strictly_as_serde_and_tolerantly_without_losing_good_items() {
    let cases = env_number("MIRO_FUZZ_CASES", 5_000) as usize;
    let seed = env_number("MIRO_FUZZ_SEED", 29);
    let budget = Duration::from_secs(env_number("MIRO_FUZZ_SECONDS", 20));
    let seeds = decode_seeds();
    assert!(seeds.len() >= 40, "{} seed bodies", seeds.len());
    let mut rng = Rng(seed);
    let mut figures = Figures::default();
    let started = Instant::now();

    // Some bodies also go through the client, strict (as `get_items` pages whatever they are),
    // to see the body kept in the error.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answer: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let server = {
        let answer = answer.clone();
        rt.block_on(ScriptedServer::start(move |_, _| {
            Answer::new(200, "application/json", answer.lock().unwrap().clone())
        }))
    };
    let strict_api = MiroApi::builder()
        .base_url(server.base_url())
        .access_token("t")
        .strict_decoding(true)
        .pacing(false)
        .retry_policy(RetryPolicy::none())
        .build();

    // The bodies as they are first, then mutated.
    for (check, body) in &seeds {
        check(&serde_json::to_vec(body).unwrap(), &mut figures);
    }
    let mut case = 0;
    while case < cases && started.elapsed() < budget {
        let (check, body) = &seeds[rng.below(seeds.len())];
        let bytes = mutated_body(&mut rng, body);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes, &mut figures)));
        if let Err(panic) = outcome {
            let text = String::from_utf8_lossy(&bytes);
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("case {case} (seed {seed}): {message}\nbody: {text}");
        }
        if case % 8 == 0 && serde_json::from_slice::<Value>(&bytes).is_ok() {
            // Through the client: strict fails with the body as received, or decodes.
            let text = String::from_utf8_lossy(&bytes).into_owned();
            *answer.lock().unwrap() = text.clone();
            let op = &miro_api::operations::GET_ITEMS;
            let got = rt.block_on(
                strict_api.call_operation::<miro_api::types::GenericItemCursorPaged>(
                    op,
                    &["b"],
                    &[],
                    None,
                ),
            );
            match got {
                Ok(_) => {}
                Err(miro_api::Error::Decode { body, .. }) => assert_eq!(body, text),
                Err(other) => panic!("not a decode error: {other}"),
            }
            figures.over_http += 1;
        }
        case += 1;
    }
    eprintln!(
        "decode fuzz (seed {seed}): {case} mutated bodies of {} seeds in {:?}, 0 panics: {figures:?}",
        seeds.len(),
        started.elapsed()
    );
    assert!(
        case >= 100 || case == cases,
        "only {case} cases in the budget"
    );
    assert!(
        figures.items_dropped > 0 && figures.fields_absent > 0 && figures.duplicate_warnings > 0,
        "the mutations reach every rule: {figures:?}"
    );
}
