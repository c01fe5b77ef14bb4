//! miro-api against a local HTTP server: decoding that survives change, item data by type,
//! multipart uploads, percent-encoded ids, and typed errors.

use std::time::Duration;

use axum::http::Method;
use miro_api::types::{self, BoardRole, WidgetDataOutput};
use miro_api::{FilePart, MiroApi};
use miro_tests::canned::CannedServer;
use serde_json::json;

async fn setup() -> (CannedServer, MiroApi) {
    let server = CannedServer::start().await;
    // A trailing slash must not produce `//v2/...`.
    let api = MiroApi::builder()
        .base_url(format!("{}/", server.base_url()))
        .access_token("secret-token")
        .retry_policy(
            miro_api::RetryPolicy::new()
                .backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build();
    (server, api)
}

#[tokio::test]
async fn unknown_enum_values_and_fields_decode_and_round_trip() {
    let (server, api) = setup().await;
    server.json(
        Method::GET,
        "/v2/boards/b1/members",
        200,
        json!({
            "data": [
                {"id": "1", "name": "Ada", "role": "editor", "type": "board_member"},
                {"id": "2", "name": "Bob", "role": "super_commenter", "type": "board_member", "brandNewField": {"x": 1}}
            ],
            "total": 2, "size": 2, "offset": 0, "limit": 20, "type": "list", "somethingNew": true
        }),
    );
    let page = api
        .get_board_members("b1")
        .limit(20)
        .await
        .expect("decodes");
    assert_eq!(page.data.len(), 2);
    assert_eq!(page.data[0].role, Some(BoardRole::Editor));
    let unknown = page.data[1].role.clone().unwrap();
    assert_eq!(unknown, BoardRole::UnknownValue("super_commenter".into()));
    assert_eq!(unknown.as_str(), "super_commenter");
    assert_eq!(
        serde_json::to_value(&unknown).unwrap(),
        json!("super_commenter")
    );
    // Requests may carry such values too, written out as unknown.
    assert_eq!(
        serde_json::to_value(BoardRole::UnknownValue("future_role".into())).unwrap(),
        json!("future_role")
    );
    // Parsing takes known values only, so a typo is an error, not an unknown value.
    assert_eq!("editor".parse(), Ok(BoardRole::Editor));
    let typo = "edtor".parse::<BoardRole>().unwrap_err();
    assert_eq!(typo.to_string(), "\"edtor\" is not a known BoardRole value");

    let request = &server.requests()[0];
    assert_eq!(request.path, "/v2/boards/b1/members");
    assert_eq!(request.query.as_deref(), Some("limit=20"));
    assert_eq!(request.headers["authorization"], "Bearer secret-token");
    assert!(request.headers["user-agent"]
        .to_str()
        .unwrap()
        .starts_with(concat!("miro-api/", env!("CARGO_PKG_VERSION"))));
    assert!(request.headers.get("api-version").is_none());
}

#[tokio::test]
async fn item_data_is_decoded_by_the_item_type() {
    let (server, api) = setup().await;
    server.json(
        Method::GET,
        "/v2/boards/b1/items",
        200,
        json!({
            "data": [
                {"id": "10", "type": "sticky_note", "data": {"content": "hi", "shape": "rectangle"}},
                {"id": "11", "type": "card", "data": {"title": "Task", "assigneeId": "3074457362577955300", "description": "d"}},
                {"id": "12", "type": "mind_map_2030", "data": {"nodes": [1, 2, 3]}},
                {"id": "13", "type": "text", "data": {"content": "plain"}}
            ],
            "total": 4, "size": 4, "limit": 10, "links": {"self": "x"}
        }),
    );
    let page = api.get_items("b1").limit(10).await.expect("decodes");
    let data: Vec<&WidgetDataOutput> = page.data.iter().map(|i| i.data.as_ref().unwrap()).collect();
    match data[0] {
        WidgetDataOutput::StickyNoteData(d) => {
            assert_eq!(d.content.as_deref(), Some("hi"));
            assert_eq!(d.shape.as_ref().map(|s| s.as_str()), Some("rectangle"));
        }
        other => panic!("sticky note decoded as {other:?}"),
    }
    match data[1] {
        WidgetDataOutput::CardData(d) => {
            assert_eq!(d.assignee_id.as_deref(), Some("3074457362577955300"));
            assert_eq!(d.title.as_deref(), Some("Task"));
        }
        other => panic!("card decoded as {other:?}"),
    }
    assert!(
        matches!(data[2], WidgetDataOutput::Unknown(raw) if *raw == json!({"nodes": [1, 2, 3]}))
    );
    assert!(matches!(data[3], WidgetDataOutput::TextData(t) if t.content == "plain"));
    // The query carries the limit; no type filter was given.
    assert_eq!(server.requests()[0].query.as_deref(), Some("limit=10"));
}

/// Splits a multipart body into (headers, content) per part.
fn parts(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = content_type.split("boundary=").nth(1).expect("a boundary");
    let delimiter = format!("--{boundary}");
    let text = body.to_vec();
    let mut out = Vec::new();
    let mut rest = &text[..];
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let rest_after_crlf = &rest[2..];
        let end = find(rest_after_crlf, delimiter.as_bytes()).expect("closing delimiter");
        let part = &rest_after_crlf[..end - 2];
        let split = find(part, b"\r\n\r\n").expect("part headers");
        out.push((
            String::from_utf8_lossy(&part[..split]).into_owned(),
            part[split + 4..].to_vec(),
        ));
        rest = &rest_after_crlf[end..];
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn multipart_uploads_carry_the_right_parts() {
    let (server, api) = setup().await;
    server.json(
        Method::POST,
        "/v2/boards/b1/images",
        201,
        json!({"id": "99", "type": "image"}),
    );
    server.json(
        Method::POST,
        "/v2/boards/b1/items/bulk",
        201,
        json!({"data": [], "type": "bulk-list"}),
    );
    let png = b"\x89PNG\r\n\x1a\nfake image bytes".to_vec();
    let data = types::UploadFileFromDeviceData::default().title("Diagram");
    let created = api
        .create_image_item_using_local_file("b1", FilePart::from_bytes(png.clone(), "diagram.png"))
        .data(&data)
        .await
        .expect("upload succeeds");
    assert_eq!(created.id, "99");

    let request = &server.requests()[0];
    let content_type = request.headers["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let p = parts(&content_type, &request.body);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].0.contains("name=\"data\"") && p[0].0.contains("Content-Type: application/json"),
        "{}",
        p[0].0
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&p[0].1).unwrap(),
        json!({"title": "Diagram"})
    );
    assert!(
        p[1].0
            .contains("name=\"resource\"; filename=\"diagram.png\""),
        "{}",
        p[1].0
    );
    assert!(p[1].0.contains("Content-Type: image/png"));
    assert_eq!(p[1].1, png);

    // Bulk upload: `data` is the item list, one `resources` part per file, in order.
    let items: Vec<types::ItemCreate> = serde_json::from_value(
        json!([{"type": "image"}, {"type": "document", "position": {"x": 10, "y": 20}}]),
    )
    .unwrap();
    let files = vec![
        FilePart::new(b"one".to_vec(), "a.png", "image/png"),
        FilePart::new(b"%PDF-1.4".to_vec(), "b.pdf", "application/pdf"),
    ];
    api.create_items_in_bulk_using_file_from_device("b1", &items, files)
        .await
        .expect("bulk upload");
    let request = &server.requests()[1];
    assert_eq!(request.path, "/v2/boards/b1/items/bulk");
    let content_type = request.headers["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let p = parts(&content_type, &request.body);
    assert_eq!(p.len(), 3);
    let sent: serde_json::Value = serde_json::from_slice(&p[0].1).unwrap();
    assert_eq!(sent[0]["type"], "image");
    assert_eq!(sent[1]["type"], "document");
    assert_eq!(sent[1]["position"]["x"], 10.0);
    assert!(p[1].0.contains("name=\"resources\"; filename=\"a.png\""));
    assert!(p[2].0.contains("filename=\"b.pdf\"") && p[2].0.contains("application/pdf"));
    assert_eq!(p[2].1, b"%PDF-1.4");
}

#[tokio::test]
async fn path_segments_are_percent_encoded() {
    let (server, api) = setup().await;
    let board = json!({"id": "uXjVOD6LSME=", "name": "B", "description": "", "type": "board"});
    server.json(Method::GET, "/v2/boards/uXjVOD6LSME%3D", 200, board);
    let got = api.get_specific_board("uXjVOD6LSME=").await.expect("found");
    assert_eq!(got.id, "uXjVOD6LSME=");
    // Characters that would end or split the path stay inside the segment.
    let err = api.get_specific_board("a/b?c#d").await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/v2/boards/uXjVOD6LSME%3D", "/v2/boards/a%2Fb%3Fc%23d"]
    );
    assert!(server.requests().iter().all(|r| r.query.is_none()));
}

#[tokio::test]
async fn a_miro_error_body_becomes_the_typed_error() {
    let (server, api) = setup().await;
    server.respond(
        Method::GET,
        "/v2/boards/gone",
        404,
        "application/json",
        json!({"status": 404, "code": "notFound", "message": "Board not found", "type": "error"})
            .to_string(),
        vec![
            ("x-ratelimit-remaining", "99950".into()),
            ("x-ratelimit-limit", "100000".into()),
        ],
    );
    let err = api.get_specific_board("gone").await.unwrap_err();
    let api_err = err.api_error().expect("an API error");
    assert_eq!(api_err.status.as_u16(), 404);
    assert_eq!(api_err.code(), Some("notFound"));
    assert_eq!(api_err.message(), Some("Board not found"));
    assert_eq!(
        api_err.body.as_ref().unwrap().type_.as_deref(),
        Some("error")
    );
    assert_eq!(api_err.operation, "get_specific_board");
    assert_eq!(err.headers().unwrap()["x-ratelimit-remaining"], "99950");
    let text = err.to_string();
    assert!(
        text.contains("404") && text.contains("notFound") && text.contains("Board not found"),
        "{text}"
    );
    assert!(!text.contains("secret-token") && !format!("{err:?}").contains("secret-token"));
}

#[tokio::test]
async fn an_html_5xx_page_keeps_its_text() {
    let (server, api) = setup().await;
    let html = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>";
    server.respond(
        Method::GET,
        "/v2/boards/b1",
        503,
        "text/html",
        html.into(),
        vec![],
    );
    let err = api.get_specific_board("b1").await.unwrap_err();
    let api_err = err.api_error().expect("an API error");
    assert_eq!(api_err.status.as_u16(), 503);
    assert!(api_err.body.is_none());
    assert_eq!(api_err.raw, html);
    assert!(err
        .to_string()
        .contains("503 Service Temporarily Unavailable"));
    // A GET is retried after a 5xx; the error is the last answer and counts the attempts.
    assert_eq!(api_err.attempts, 5);
    assert_eq!(server.requests().len(), 5);
    assert!(err.to_string().contains("after 5 attempts"), "{err}");
}

#[tokio::test]
async fn a_truncated_body_is_a_decode_error_with_the_raw_text() {
    let (server, api) = setup().await;
    let truncated = r#"{"id": "b1", "name": "Board", "descr"#;
    server.respond(
        Method::GET,
        "/v2/boards/b1",
        200,
        "application/json",
        truncated.into(),
        vec![],
    );
    match api.get_specific_board("b1").await.unwrap_err() {
        miro_api::Error::Decode {
            status,
            body,
            operation,
            ..
        } => {
            assert_eq!(status.as_u16(), 200);
            assert_eq!(body, truncated);
            assert_eq!(operation, "get_specific_board");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn success_responses_expose_headers_and_rate_limits() {
    let (server, api) = setup().await;
    let board = json!({"id": "b1", "name": "B", "description": "", "type": "board"});
    server.respond(
        Method::GET,
        "/v2/boards/b1",
        200,
        "application/json",
        board.to_string(),
        vec![
            ("x-ratelimit-limit", "100000".into()),
            ("x-ratelimit-remaining", "99900".into()),
            ("x-ratelimit-reset", "1790000000".into()),
        ],
    );
    let response = api.get_specific_board("b1").await.unwrap();
    let rl = response.rate_limit().expect("rate-limit headers");
    assert_eq!(
        (rl.limit, rl.remaining, rl.reset),
        (100_000, 99_900, Some(1_790_000_000))
    );
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.into_inner().name, "B");
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let api = MiroApi::builder()
        .base_url(format!("http://{addr}"))
        .access_token("t")
        .retry_policy(
            miro_api::RetryPolicy::new()
                .max_attempts(3)
                .backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build();
    let err = api.get_specific_board("b1").await.unwrap_err();
    // Nothing was sent, so even a POST would be retried; the error counts the attempts.
    assert!(
        matches!(
            err,
            miro_api::Error::Transport {
                operation: "get_specific_board",
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn export_job_statuses_decode_real_values() {
    let (server, api) = setup().await;
    let job = "1f6e3f1e-53c4-4b1e-9b1c-2b5a0d2c7c11";
    server.json(
        Method::PUT,
        &format!("/v2/orgs/o1/boards/export/jobs/{job}/status"),
        200,
        json!({"status": "CANCELLED"}),
    );
    server.json(
        Method::GET,
        &format!("/v2/orgs/o1/boards/export/jobs/{job}"),
        200,
        json!({"jobStatus": "SOMETHING_NEW"}),
    );
    let job_id: uuid::Uuid = job.parse().unwrap();
    let body: types::EnterpriseUpdateBoardExportJobBody =
        serde_json::from_value(json!({"status": "CANCELLED"})).unwrap();
    let updated = api
        .enterprise_update_board_export_job("o1", &job_id, &body)
        .await
        .expect("decodes");
    assert_eq!(updated.status, "CANCELLED");
    let status = api
        .enterprise_board_export_job_status("o1", &job_id)
        .await
        .expect("decodes");
    assert_eq!(status.job_status.as_str(), "SOMETHING_NEW");
    let sent: serde_json::Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(sent, json!({"status": "CANCELLED"}));
}
