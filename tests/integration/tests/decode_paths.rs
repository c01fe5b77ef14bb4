//! Both decoders of an item give the same value: the generated one (each item read from the
//! body's text, its `data` and `style` decoded once, straight into the variant its `type`
//! names) and the generic one it replaced (`data` and `style` parsed as `serde_json::Value`
//! first, then decoded by `from_outer_tag`, the rest of the item decoded from a `Value`).
//!
//! Compared on every item of the live corpus (`MIRO_LIVE_CORPUS`), on the emulator's items of
//! every type (through the client, page by page), and on hand-made items the generic path has
//! rules for: an unknown `type`, data or style that does not fit its type, nulls, and a page
//! whose mismatched optional field the tolerant decoding drops.

use miro_api::types::{GenericItem, GenericItemCursorPaged, ItemStyle, WidgetDataOutput};
use miro_tests::item_kinds;
use miro_tests::scripted::{Answer, ScriptedServer};
use serde::Deserialize;
use serde_json::{json, Value};

/// The generic path: `data` and `style` as parsed values, decoded by the item's `type` through
/// the public `from_outer_tag`; the other fields decoded from the parsed item.
fn generic(item: &Value) -> Result<GenericItem, String> {
    let mut rest = item.clone();
    let fields = rest.as_object_mut().ok_or("not an object")?;
    let data = fields.remove("data");
    let style = fields.remove("style");
    let mut decoded = GenericItem::deserialize(&rest).map_err(|e| e.to_string())?;
    let tag = Some(decoded.type_.as_str());
    decoded.data = data
        .filter(|v| !v.is_null())
        .map(|v| WidgetDataOutput::from_outer_tag(tag, v));
    decoded.style = style
        .filter(|v| !v.is_null())
        .map(|v| ItemStyle::from_outer_tag(tag, v));
    Ok(decoded)
}

/// The generated path, from the item's text (what the client does on its fast path).
fn generated(item: &Value) -> Result<GenericItem, String> {
    serde_json::from_str(&item.to_string()).map_err(|e| e.to_string())
}

/// Both decoders agree on `item`: both decode it, to values whose every field is the same
/// (compared through `Debug`, which shows every field and variant), or both reject it.
/// Returns whether it decoded.
fn same(item: &Value, what: &str) -> bool {
    match (generated(item), generic(item)) {
        (Ok(a), Ok(b)) => {
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}: {item}");
            true
        }
        (Err(_), Err(_)) => false,
        (a, b) => panic!("{what}: generated {a:?}, generic {b:?}: {item}"),
    }
}

/// Every object in `value` that looks like an item: an `id`, a string `type`, and `data` or
/// `style` an object.
fn items_in<'v>(value: &'v Value, out: &mut Vec<&'v Value>) {
    match value {
        Value::Object(fields) => {
            let is_item = fields.contains_key("id")
                && fields.get("type").is_some_and(Value::is_string)
                && ["data", "style"]
                    .iter()
                    .any(|k| fields.get(*k).is_some_and(Value::is_object));
            if is_item {
                out.push(value);
            }
            fields.values().for_each(|v| items_in(v, out));
        }
        Value::Array(values) => values.iter().for_each(|v| items_in(v, out)),
        _ => {}
    }
}

#[test]
fn both_decoders_agree_on_every_item_of_the_live_corpus() {
    let dir = miro_tests::live_corpus();
    let mut bodies: Vec<_> = std::fs::read_dir(dir.join("bodies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    bodies.sort();
    let (mut compared, mut decoded, mut styled, mut kinds) =
        (0, 0, 0, std::collections::BTreeSet::new());
    for path in &bodies {
        let Ok(body) = serde_json::from_slice::<Value>(&std::fs::read(path).unwrap()) else {
            continue;
        };
        let mut items = Vec::new();
        items_in(&body, &mut items);
        for item in items {
            compared += 1;
            if same(item, &path.display().to_string()) {
                decoded += 1;
                styled += usize::from(item.get("style").is_some_and(Value::is_object));
                kinds.insert(item["type"].as_str().unwrap().to_string());
            }
        }
    }
    // The corpus has items of every type with data, and live items with styles.
    assert!(decoded >= 30, "{decoded} of {compared} items decoded");
    assert!(styled >= 10, "{styled} items with a style");
    assert!(kinds.len() >= 9, "item types: {kinds:?}");
}

#[test]
fn both_decoders_agree_on_what_the_generic_path_has_rules_for() {
    let note = json!({
        "id": "1", "type": "sticky_note",
        "data": {"content": "hi", "shape": "square"},
        "style": {"fillColor": "light_yellow", "textAlign": "center"},
        "createdAt": "2024-01-01T00:00:00Z", "modifiedAt": "2024-01-02T03:04:05.678+02:00",
        "position": {"x": 1.5, "y": -2, "origin": "center", "relativeTo": "canvas_center"},
        "createdBy": {"id": "3458764517517819000", "type": "user"}
    });
    let with = |pointer: &str, value: Value| {
        let mut item = note.clone();
        *item.pointer_mut(pointer).unwrap() = value;
        item
    };
    let cases = [
        ("a known type", note.clone()),
        (
            "an unknown type keeps its data and style",
            with("/type", json!("mind_map_2030")),
        ),
        (
            "data that does not fit its type",
            with("/data", json!({"content": 7})),
        ),
        (
            "data of another type's shape",
            with("/data", json!({"title": "card"})),
        ),
        ("data not an object", with("/data", json!([1, "two"]))),
        (
            "a style that does not fit its type",
            with("/style/fillColor", json!(5)),
        ),
        ("null data", with("/data", Value::Null)),
        ("null style", with("/style", Value::Null)),
        (
            "an unknown enum value",
            with("/data/shape", json!("hexagon_2030")),
        ),
        (
            "an unknown style value",
            with("/style/textAlign", json!("justify")),
        ),
        (
            "a date with an offset",
            with("/createdAt", json!("2024-06-30T23:59:60+05:30")),
        ),
        (
            "a date Miro does not send",
            with("/createdAt", json!("2024-01-01 10:00:00 UTC")),
        ),
        ("a malformed date", with("/createdAt", json!("yesterday"))),
        (
            "escapes in the data",
            with("/data/content", json!("\"quoted\" \\ \u{e9}\n")),
        ),
        (
            "an id as a number",
            with("/createdBy/id", json!(3458764517517819000u64)),
        ),
    ];
    for (what, item) in &cases {
        same(item, what);
    }
    // What the rules say, checked on the generated path.
    let unknown = generated(&cases[1].1).unwrap();
    assert!(matches!(&unknown.data, Some(WidgetDataOutput::Unknown(v)) if *v == note["data"]));
    assert!(matches!(&unknown.style, Some(ItemStyle::Unknown(v)) if *v == note["style"]));
    let misfit = generated(&cases[2].1).unwrap();
    assert!(
        matches!(&misfit.data, Some(WidgetDataOutput::Unknown(v)) if *v == json!({"content": 7}))
    );
    assert!(matches!(&misfit.style, Some(ItemStyle::StickyNoteStyle(_))));
    assert!(generated(&cases[6].1).unwrap().data.is_none());
    assert!(
        generated(&cases[12].1).is_err(),
        "a malformed date fails the item"
    );
}

/// A client of a server that answers every request with `body`.
async fn serving(body: String) -> (miro_api::MiroApi, ScriptedServer) {
    let server =
        ScriptedServer::start(move |_, _| Answer::new(200, "application/json", body.clone())).await;
    let api = miro_api::MiroApi::builder()
        .base_url(server.base_url())
        .access_token("t")
        .pacing(false)
        .build();
    (api, server)
}

#[tokio::test]
async fn tolerant_decoding_drops_a_mismatched_field_and_keeps_the_item_data() {
    let page = json!({
        "data": [
            {"id": "1", "type": "sticky_note", "data": {"content": "a"},
             "style": {"fillColor": "gray"}, "createdAt": "yesterday"},
            {"id": "2", "type": "mind_map_2030", "data": {"nodes": [1]}, "style": {"x": 1}},
            {"id": "3", "type": "text", "data": {"content": 3}}
        ],
        "cursor": "", "limit": 50, "size": 3, "type": "cursor-list"
    });
    let (api, _server) = serving(page.to_string()).await;
    let got = api.get_items("b").await.unwrap();
    let paths: Vec<_> = got
        .decode_warnings()
        .iter()
        .map(|w| w.path.as_str())
        .collect();
    assert_eq!(paths, ["data[0].createdAt"]);
    assert_eq!(got.data.len(), 3);
    assert_eq!(got.data[0].created_at, None);
    assert!(matches!(
        &got.data[0].data,
        Some(WidgetDataOutput::StickyNoteData(d)) if d.content.as_deref() == Some("a")
    ));
    assert!(matches!(
        &got.data[0].style,
        Some(ItemStyle::StickyNoteStyle(_))
    ));
    assert!(
        matches!(&got.data[1].data, Some(WidgetDataOutput::Unknown(v)) if *v == json!({"nodes": [1]}))
    );
    assert!(matches!(&got.data[1].style, Some(ItemStyle::Unknown(v)) if *v == json!({"x": 1})));
    assert!(
        matches!(&got.data[2].data, Some(WidgetDataOutput::Unknown(v)) if *v == json!({"content": 3}))
    );
    // The body as received.
    assert_eq!(got.raw_json().unwrap(), page);
    // The two other items decode as the generic path decodes them; the first as the generic
    // path decodes it once the dropped field is gone.
    let raw = got.raw_json().unwrap();
    let mut first = raw["data"][0].clone();
    first.as_object_mut().unwrap().remove("createdAt");
    let expected = [first, raw["data"][1].clone(), raw["data"][2].clone()];
    for (item, expected) in got.data.iter().zip(&expected) {
        assert_eq!(
            format!("{item:?}"),
            format!("{:?}", generic(expected).unwrap())
        );
    }
}

#[tokio::test]
async fn both_decoders_agree_on_the_emulators_items_page_by_page() {
    let (emu, api, board) = miro_tests::emulator_with_board("decoders", true).await;
    let kinds: Vec<&'static str> = item_kinds::kinds().into_iter().map(|(k, _)| k).collect();
    item_kinds::add_items(&api, &board, 3 * kinds.len(), |i| kinds[i % kinds.len()]).await;
    let (mut cursor, mut seen, mut seen_kinds) =
        (None::<String>, 0, std::collections::BTreeSet::new());
    loop {
        let mut request = api.get_items(&board).limit(10);
        if let Some(c) = &cursor {
            request = request.cursor(c);
        }
        let page = request.await.unwrap();
        let raw = page.raw_json().unwrap();
        let items = raw["data"].as_array().unwrap();
        assert_eq!(items.len(), page.data.len());
        for (decoded, item) in page.data.iter().zip(items) {
            let expected = generic(item).unwrap();
            assert_eq!(format!("{decoded:?}"), format!("{expected:?}"), "{item}");
            assert!(
                !matches!(decoded.data, Some(WidgetDataOutput::Unknown(_)) | None),
                "{} data decodes as its type: {item}",
                decoded.type_
            );
            assert!(same(item, "an emulator item"));
            seen_kinds.insert(decoded.type_.clone());
            seen += 1;
        }
        // The generated page type decodes the body as the client did.
        let whole: GenericItemCursorPaged = serde_json::from_value(raw).unwrap();
        assert_eq!(format!("{:?}", whole.data), format!("{:?}", page.data));
        cursor = page.cursor.clone().filter(|c| !c.is_empty());
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, 3 * kinds.len());
    assert_eq!(seen_kinds.len(), kinds.len(), "{seen_kinds:?}");
    emu.shutdown().await;
}
