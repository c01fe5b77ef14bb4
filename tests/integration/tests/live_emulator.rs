//! The emulator behaves like live Miro where live is known to differ from the spec, and the
//! client, decoding strictly, reads all of it: boards with top-level policies and a picture
//! whose id is a string, cursor pages of type `cursor-list` whose items carry style and links,
//! Miro's 400 for unknown request fields, out-of-range page sizes and colours of the wrong
//! kind, and SCIM under `/api/v1/scim`.

use miro_api::operations;
use miro_api::types::{self, ItemStyle};
use miro_api::MiroApi;
use miro_emulator::RunningEmulator;
use serde_json::{json, Value};

async fn setup() -> (RunningEmulator, MiroApi, String) {
    miro_tests::emulator_with_board("Live", true).await
}

/// A call with a JSON body the typed methods cannot build (an unknown field, a wrong colour).
async fn raw(
    api: &MiroApi,
    op: &str,
    path: &[&str],
    query: &[(&str, String)],
    body: Option<Value>,
) -> miro_api::Error {
    let op = operations::find(op).unwrap();
    api.call_operation::<Value>(op, path, query, body.as_ref())
        .await
        .expect_err("Miro refuses it")
}

fn field_errors(err: &miro_api::Error) -> Vec<(String, String)> {
    let api = err
        .api_error()
        .unwrap_or_else(|| panic!("an API error: {err:?}"));
    assert_eq!(api.status.as_u16(), 400, "{err:?}");
    api.body
        .as_ref()
        .and_then(|b| b.context.as_ref())
        .and_then(|c| c["fields"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap_or_default().to_string(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn boards_carry_live_policies_and_a_string_picture_id() {
    let (_emu, api, board) = setup().await;
    let got = api.get_specific_board(&board).await.unwrap();
    let raw = got.raw_json().unwrap();
    assert!(raw["picture"]["id"].is_string(), "{raw}");
    let picture_id = got.picture.as_ref().and_then(|p| p.id.clone()).unwrap();
    assert!(picture_id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(raw["permissionsPolicy"], raw["policy"]["permissionsPolicy"]);
    assert!(got.sharing_policy.as_ref().unwrap().access.is_some());
    assert!(got
        .permissions_policy
        .as_ref()
        .unwrap()
        .copy_access_level
        .is_some());
}

#[tokio::test]
async fn item_pages_are_cursor_lists_whose_items_carry_style_and_links() {
    let (_emu, api, board) = setup().await;
    let note = types::StickyNoteCreateRequest::default()
        .data(types::StickyNoteData::default().content("hi"))
        .style(types::StickyNoteStyle::default().fill_color(types::FillColor::Orange));
    api.create_sticky_note_item(&board, &note).await.unwrap();
    let page = api.get_items(&board).await.unwrap();
    assert_eq!(page.type_.as_deref(), Some("cursor-list"));
    let item = &page.data[0];
    assert!(item.links.as_ref().and_then(|l| l.self_.as_ref()).is_some());
    match &item.style {
        Some(ItemStyle::StickyNoteStyle(s)) => {
            assert_eq!(s.fill_color, Some(types::FillColor::Orange))
        }
        other => panic!("the sticky note's style: {other:?}"),
    }
}

#[tokio::test]
async fn unknown_request_fields_get_miros_400() {
    let (_emu, api, board) = setup().await;
    let err = raw(
        &api,
        "create-shape-item",
        &[&board],
        &[],
        Some(json!({"data": {"shape": "rectangle"}, "metadata": {"k": "v"}})),
    )
    .await;
    assert_eq!(
        field_errors(&err),
        [(
            "metadata".to_string(),
            "Field [metadata] is not supported".to_string()
        )]
    );
    let body = err.api_error().unwrap().body.as_ref().unwrap();
    assert_eq!(body.code.as_deref(), Some("2.0703"));
    assert_eq!(body.message.as_deref(), Some("Invalid parameters"));

    let err = raw(
        &api,
        "update-board",
        &[&board],
        &[],
        Some(json!({"name": "x", "appData": 1})),
    )
    .await;
    assert_eq!(field_errors(&err)[0].1, "Field [appData] is not supported");
}

#[tokio::test]
async fn page_sizes_outside_a_lists_bounds_are_refused() {
    let (_emu, api, board) = setup().await;
    for limit in [5, 51] {
        let err = api.get_items(&board).limit(limit).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "limit {limit}");
    }
    api.get_items(&board).limit(10).await.unwrap();
    let op = operations::find("get-items").unwrap();
    assert_eq!((op.min_page_size, op.max_page_size), (Some(10), Some(50)));
}

#[tokio::test]
async fn colours_are_hex_on_shapes_and_names_on_sticky_notes() {
    let (_emu, api, board) = setup().await;
    let shape = |fill: &str| json!({"data": {"shape": "rectangle"}, "style": {"fillColor": fill}});
    let err = raw(
        &api,
        "create-shape-item",
        &[&board],
        &[],
        Some(shape("red")),
    )
    .await;
    assert_eq!(field_errors(&err)[0].0, "style.fillColor");
    let op = operations::find("create-shape-item").unwrap();
    api.call_operation::<Value>(op, &[&board], &[], Some(&shape("#ff0000")))
        .await
        .unwrap();

    let note = json!({"data": {"content": "x"}, "style": {"fillColor": "#ff0000"}});
    let err = raw(&api, "create-sticky-note-item", &[&board], &[], Some(note)).await;
    assert_eq!(field_errors(&err)[0].0, "style.fillColor");
}

#[tokio::test]
async fn scim_answers_under_api_v1_scim() {
    let (emu, api, _board) = setup().await;
    api.list_users().await.unwrap();
    let log = emu.requests();
    let last = log.last().unwrap();
    assert_eq!(last.path, "/api/v1/scim/Users");
    assert_eq!(last.status, Some(200));
}
