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
    let http = reqwest::Client::new();
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
