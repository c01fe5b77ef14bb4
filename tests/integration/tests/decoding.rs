//! Tolerant and strict decoding through the client, against a local server answering what Miro
//! might: a page keeps its good items when one item is malformed, many mismatched fields of
//! one kind do not fail a page, the cap's error names its field and place, and strict decoding
//! refuses duplicate keys.

use miro_api::decode::{DecodeWarningKind, MAX_DROPPED};
use miro_api::MiroApi;
use miro_tests::scripted::{Answer, ScriptedServer};
use serde_json::{json, Value};

/// A client of a server that answers every request with `body`.
async fn serving(body: String, strict: bool) -> (MiroApi, ScriptedServer) {
    let server =
        ScriptedServer::start(move |_, _| Answer::new(200, "application/json", body.clone())).await;
    let api = MiroApi::builder()
        .base_url(server.base_url())
        .access_token("t")
        .strict_decoding(strict)
        .pacing(false)
        .build();
    (api, server)
}

/// A sticky note as `get_items` lists it.
fn item(i: usize) -> Value {
    json!({
        "id": format!("345876451400000{i:04}"),
        "type": "sticky_note",
        "data": {"content": format!("note {i}"), "shape": "square"},
        "geometry": {"width": 199.0, "height": 228.0},
        "position": {"x": 1.0, "y": 2.0, "origin": "center", "relativeTo": "canvas_center"},
        "createdAt": "2024-05-01T10:00:00Z",
        "modifiedAt": "2024-05-01T10:00:00Z",
    })
}

fn page(items: Vec<Value>) -> String {
    json!({"data": items, "cursor": "next-page", "limit": 50, "size": 50, "type": "cursor-list"})
        .to_string()
}

#[tokio::test]
async fn one_malformed_item_leaves_the_page_and_its_other_items() {
    let mut items: Vec<Value> = (0..50).map(item).collect();
    items[3]["id"] = json!(3458764514000000003u64);
    items[7].as_object_mut().unwrap().remove("type");
    let (api, _server) = serving(page(items.clone()), false).await;
    let got = api.get_items("b").await.unwrap();
    assert_eq!(got.data.len(), 48, "the 48 good items stay");
    assert_eq!(got.cursor.as_deref(), Some("next-page"));
    assert!(got
        .data
        .iter()
        .all(|i| i.id != "3458764514000000003" && i.id != "3458764514000000007"));
    let warnings = got.decode_warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(
        warnings[0].kind,
        DecodeWarningKind::ItemDropped { index: 3 }
    );
    assert_eq!(warnings[0].path, "data[3]");
    assert_eq!(warnings[0].value, items[3], "the raw item is kept whole");
    assert!(warnings[0].message.contains("(at `data[3].id`)"));
    assert_eq!(
        warnings[1].kind,
        DecodeWarningKind::ItemDropped { index: 7 }
    );
    assert_eq!(warnings[1].value, items[7]);
    assert!(warnings[1].message.contains("missing field `type`"));
}

#[tokio::test]
async fn two_mismatched_optional_fields_in_every_item_do_not_fail_the_page() {
    let items: Vec<Value> = (0..50)
        .map(|i| {
            let mut it = item(i);
            it["createdAt"] = json!("yesterday");
            it["geometry"]["width"] = json!("wide");
            it
        })
        .collect();
    let (api, _server) = serving(page(items), false).await;
    let got = api.get_items("b").await.unwrap();
    assert_eq!(got.data.len(), 50);
    assert!(got
        .data
        .iter()
        .all(|i| i.created_at.is_none() && i.geometry.as_ref().is_some_and(|g| g.width.is_none())));
    let warnings = got.decode_warnings();
    assert_eq!(warnings.len(), 100);
    assert!(warnings
        .iter()
        .all(|w| w.kind == DecodeWarningKind::FieldAbsent));
    assert_eq!(warnings[1].path, "data[0].geometry.width");
}

#[tokio::test]
async fn past_the_cap_the_error_names_its_field_and_where_it_is() {
    use std::collections::BTreeMap;
    // An object of numbers whose every value is a string: one schema path per key.
    let body = |n: usize| {
        let map: serde_json::Map<String, Value> =
            (0..n).map(|i| (format!("k{i:02}"), json!("x"))).collect();
        Value::Object(map).to_string()
    };
    let op = &miro_api::operations::GET_BOARDS;
    let (api, _server) = serving(body(MAX_DROPPED), false).await;
    let got = api
        .call_operation::<BTreeMap<String, u32>>(op, &[], &[], None)
        .await
        .unwrap();
    assert_eq!(got.decode_warnings().len(), MAX_DROPPED);

    let text = body(MAX_DROPPED + 1);
    let (api, _server) = serving(text.clone(), false).await;
    let err = api
        .call_operation::<BTreeMap<String, u32>>(op, &[], &[], None)
        .await
        .unwrap_err();
    let miro_api::Error::Decode {
        source, body: raw, ..
    } = &err
    else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(raw, &text, "the body as received");
    let message = source.to_string();
    // The 65th field, with its own message, and its place in the body.
    assert!(
        message.contains(r#"invalid type: string "x", expected u32"#)
            && message.contains("(at `k64`)"),
        "{message}"
    );
    assert_eq!(source.line(), 1);
    assert_eq!(
        source.column(),
        text.find(r#""k64""#).unwrap() + 9,
        "{message}"
    );
}

#[tokio::test]
async fn strict_decoding_refuses_a_duplicate_key_and_tolerant_decoding_warns() {
    let body = r#"{"id":"3458764514000000001","type":"board","name":"Plans","description":"","id":"3458764514000000002"}"#;
    let (strict, _s) = serving(body.to_string(), true).await;
    match strict.get_specific_board("b").await {
        Err(miro_api::Error::Decode {
            source, body: raw, ..
        }) => {
            assert_eq!(raw, body);
            assert!(source.to_string().contains("duplicate"), "{source}");
            assert_eq!(source.line(), 1, "{source}");
            assert!(source.column() > 0, "{source}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let (api, _s) = serving(body.to_string(), false).await;
    let board = api.get_specific_board("b").await.unwrap();
    assert_eq!(
        board.id, "3458764514000000002",
        "the last value, as JSON parsers do"
    );
    let warnings = board.decode_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].kind, DecodeWarningKind::DuplicateKey);
    assert_eq!(warnings[0].path, "id");
    assert_eq!(warnings[0].value, "3458764514000000001");
}
