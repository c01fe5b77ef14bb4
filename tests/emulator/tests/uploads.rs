//! Multipart uploads, bulk create (JSON and multipart), all or nothing.

mod common;

use common::{enc, Api};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

fn png(size: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend((0..size.saturating_sub(8)).map(|i| (i * 31 % 251) as u8));
    v
}

async fn upload(api: &Api, path: &str, method: Method, form: Form) -> (u16, Value) {
    let resp = api
        .http
        .request(method, api.url(path))
        .bearer_auth(&api.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn image_upload_keeps_the_file() {
    let api = Api::start().await;
    let board = api.board("files").await;
    let b = enc(&board);
    let bytes = png(300_000);
    let form = Form::new()
        .part(
            "resource",
            Part::bytes(bytes.clone())
                .file_name("cat.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .part(
            "data",
            Part::text(json!({"title": "Cat", "position": {"x": 5, "y": 6}}).to_string())
                .mime_str("application/json")
                .unwrap(),
        );
    let (s, item) = upload(&api, &format!("/v2/boards/{b}/images"), Method::POST, form).await;
    assert_eq!(s, 201, "{item}");
    assert_eq!(item["type"], "image");
    assert_eq!(item["data"]["title"], "Cat");
    assert_eq!(item["position"]["x"], 5);
    let id = item["id"].as_str().unwrap();

    let stored = api.emu.uploaded_file(&board, id).expect("file kept");
    assert_eq!(stored.bytes.as_ref(), bytes.as_slice());
    assert_eq!(stored.file_name.as_deref(), Some("cat.png"));
    assert_eq!(stored.content_type.as_deref(), Some("image/png"));

    // The imageUrl serves the same bytes.
    let url = item["data"]["imageUrl"].as_str().unwrap();
    let got = api
        .http
        .get(url)
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), bytes.as_slice());

    // The log has the parts.
    let logged = api
        .emu
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/images"))
        .unwrap();
    let resource = logged
        .parts
        .iter()
        .find(|p| p.name.as_deref() == Some("resource"))
        .unwrap();
    assert_eq!(resource.size, bytes.len());
    assert_eq!(resource.file_name.as_deref(), Some("cat.png"));
    let data = logged
        .parts
        .iter()
        .find(|p| p.name.as_deref() == Some("data"))
        .unwrap();
    assert_eq!(data.content_type.as_deref(), Some("application/json"));
    assert!(data.text.as_deref().unwrap().contains("Cat"));

    // PATCH replaces the file.
    let form = Form::new().part(
        "resource",
        Part::bytes(png(1000))
            .file_name("dog.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let (s, _) = upload(
        &api,
        &format!("/v2/boards/{b}/images/{id}"),
        Method::PATCH,
        form,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(api.emu.uploaded_file(&board, id).unwrap().bytes.len(), 1000);
}

#[tokio::test]
async fn files_over_6_mb_are_refused_with_413() {
    let api = Api::start().await;
    let board = api.board("files").await;
    let b = enc(&board);
    let form = Form::new().part(
        "resource",
        Part::bytes(vec![0u8; miro_emulator::MAX_FILE_BYTES + 1])
            .file_name("big.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let (s, body) = upload(
        &api,
        &format!("/v2/boards/{b}/documents"),
        Method::POST,
        form,
    )
    .await;
    assert_eq!(s, 413);
    assert_eq!(body["status"], 413);
    assert_eq!(body["type"], "error");
    assert_eq!(api.emu.item_count(&board), Some(0));

    let form = Form::new().part(
        "resource",
        Part::bytes(vec![0u8; miro_emulator::MAX_FILE_BYTES])
            .file_name("ok.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let (s, item) = upload(
        &api,
        &format!("/v2/boards/{b}/documents"),
        Method::POST,
        form,
    )
    .await;
    assert_eq!(s, 201, "exactly 6 MB is accepted");
    assert_eq!(item["type"], "document");
}

#[tokio::test]
async fn upload_without_resource_is_400() {
    let api = Api::start().await;
    let board = api.board("files").await;
    let form = Form::new().part(
        "data",
        Part::text("{}").mime_str("application/json").unwrap(),
    );
    let (s, body) = upload(
        &api,
        &format!("/v2/boards/{}/images", enc(&board)),
        Method::POST,
        form,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(body["context"]["fields"][0]["field"], "resource");
}

#[tokio::test]
async fn bulk_is_all_or_nothing() {
    let api = Api::start().await;
    let board = api.board("bulk").await;
    let b = enc(&board);
    let (s, body) = api
        .post(
            &format!("/v2/boards/{b}/items/bulk"),
            json!([
                {"type": "sticky_note", "data": {"content": "ok"}},
                {"type": "text", "data": {}},
                {"type": "shape", "data": {"shape": "circle"}, "geometry": {"width": -1}},
                {"type": "nonsense"}
            ]),
        )
        .await;
    assert_eq!(s, 400);
    let fields: Vec<&str> = body["context"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["1.data.content", "2.geometry.width", "3.type"]);
    assert!(body["context"]["fields"][0]["message"].is_string());
    assert_eq!(api.emu.item_count(&board), Some(0), "nothing was created");

    let too_many: Vec<Value> = (0..21)
        .map(|_| json!({"type": "text", "data": {"content": "x"}}))
        .collect();
    let (s, _) = api
        .post(
            &format!("/v2/boards/{b}/items/bulk"),
            Value::Array(too_many),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = api
        .post(&format!("/v2/boards/{b}/items/bulk"), json!([]))
        .await;
    assert_eq!(s, 400);
    assert_eq!(api.emu.item_count(&board), Some(0));

    let (s, body) = api
        .post(
            &format!("/v2/boards/{b}/items/bulk"),
            json!([{"type": "card", "data": {"title": "c"}}, {"type": "frame", "data": {"title": "f"}}]),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(body["type"], "bulk-list");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["type"], "frame");
}

#[tokio::test]
async fn bulk_multipart_assigns_files_in_order() {
    let api = Api::start().await;
    let board = api.board("bulk").await;
    let b = enc(&board);
    let data = json!([
        {"type": "image", "data": {"title": "one"}},
        {"type": "sticky_note", "data": {"content": "between"}},
        {"type": "document", "data": {"title": "two"}}
    ]);
    let form = Form::new()
        .part(
            "data",
            Part::text(data.to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "resources",
            Part::bytes(png(100))
                .file_name("1.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .part(
            "resources",
            Part::bytes(vec![7u8; 50])
                .file_name("2.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let (s, body) = upload(
        &api,
        &format!("/v2/boards/{b}/items/bulk"),
        Method::POST,
        form,
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        api.emu
            .uploaded_file(&board, ids[0])
            .unwrap()
            .file_name
            .as_deref(),
        Some("1.png")
    );
    assert!(api.emu.uploaded_file(&board, ids[1]).is_none());
    assert_eq!(
        api.emu.uploaded_file(&board, ids[2]).unwrap().bytes.len(),
        50
    );

    // One file short: nothing is created.
    let form = Form::new()
        .part(
            "data",
            Part::text(data.to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "resources",
            Part::bytes(png(100))
                .file_name("1.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let (s, _) = upload(
        &api,
        &format!("/v2/boards/{b}/items/bulk"),
        Method::POST,
        form,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(api.emu.item_count(&board), Some(3));
}
