//! Requests to paths the spec lacks, against the emulator: `MiroApi::request` goes through the
//! same transport as the generated methods (path encoding, token, retries, time limits, pacing,
//! errors), and the comments wrapper walks the live `/v2-experimental` comment endpoints.

use std::time::Duration;

use miro_api::comments::{CommentCreate, CommentPage, CommentThread};
use miro_api::types::BoardWithLinks;
use miro_api::{Error, FilePart, Method, MiroApi, MultipartBody, RetryPolicy, TimeoutCause};
use miro_emulator::{Emulator, Fault, FaultKind, RunningEmulator};
use serde_json::{json, Value};

fn client(emu: &RunningEmulator) -> MiroApi {
    MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .retry_policy(
            RetryPolicy::new().backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
}

async fn board(api: &MiroApi) -> String {
    api.create_board(&Default::default())
        .await
        .unwrap()
        .into_inner()
        .id
}

#[tokio::test]
async fn a_raw_get_encodes_its_path_arguments_and_sends_the_token_and_the_query() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu);
    let board = board(&api).await;
    assert!(
        board.ends_with('='),
        "a board id that needs encoding: {board}"
    );
    emu.clear_requests();

    let page = api
        .request(Method::GET, "/v2/boards/{}/diagrams", [&board])
        .query("limit", 10)
        .send::<Value>()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page["data"], json!([]));
    let formats = api
        .request(
            Method::GET,
            "/v2/boards/{board_id}/data_table_formats",
            [&board],
        )
        .send::<Value>()
        .await
        .unwrap();
    assert_eq!(formats["total"], 0);

    let log = emu.requests();
    let sent = &log[0];
    let encoded = board.replace('=', "%3D");
    assert_eq!(sent.path, format!("/v2/boards/{encoded}/diagrams"));
    assert_eq!(sent.query_param("limit").as_deref(), Some("10"));
    let header = |name: &str| {
        sent.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("authorization").as_deref(),
        Some("Bearer [redacted]")
    );
    assert!(header("user-agent").is_some_and(|ua| ua.starts_with("miro-api/")));
}

#[tokio::test]
async fn raw_requests_decode_typed_answers_and_empty_ones() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu);
    let created = api
        .request(Method::POST, "/v2/boards", [""; 0])
        .json(&json!({"name": "raw"}))
        .send::<BoardWithLinks>()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.name, "raw");
    let id = created.into_inner().id;

    let gone = api
        .request(Method::DELETE, "/v2/boards/{}", [&id])
        .send_empty()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let err = api
        .request(Method::GET, "/v2/boards/{}", [&id])
        .send::<Value>()
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err}");
    assert!(err.api_error().is_some(), "Miro's error body: {err}");
}

#[tokio::test]
async fn a_raw_multipart_upload_sends_its_parts() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu);
    let board = board(&api).await;
    let png = b"\x89PNG\r\n\x1a\nnot really".to_vec();
    let body = MultipartBody::new()
        .json("data", &json!({"title": "raw upload"}))
        .unwrap()
        .file("resource", FilePart::from_bytes(png.clone(), "a.png"));
    let image = api
        .request(Method::POST, "/v2/boards/{}/images", [&board])
        .multipart(body)
        .send::<Value>()
        .await
        .unwrap();
    assert_eq!(image["data"]["title"], "raw upload");
    let id = image["id"].as_str().unwrap();
    let file = emu.uploaded_file(&board, id).expect("the file was stored");
    assert_eq!(file.bytes.as_ref(), png.as_slice());
}

#[tokio::test]
async fn raw_requests_are_retried_and_kept_to_their_time_limit() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu);
    let board = board(&api).await;
    emu.inject_fault(
        Fault::new(FaultKind::ServerError(503))
            .on("GET /v2/boards/{board_id}/diagrams")
            .times(1),
    )
    .unwrap();
    let page = api
        .request(Method::GET, "/v2/boards/{}/diagrams", [&board])
        .send::<Value>()
        .await
        .unwrap();
    assert_eq!(page.attempts(), 2, "the 503 was retried");

    emu.inject_fault(
        Fault::new(FaultKind::Delay(Duration::from_secs(5)))
            .on("GET /v2/boards/{board_id}/data_table_formats"),
    )
    .unwrap();
    let err = api
        .with_timeout(Duration::from_millis(300))
        .request(Method::GET, "/v2/boards/{}/data_table_formats", [&board])
        .send::<Value>()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                cause: TimeoutCause::Call,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_raw_requests_are_refused_before_anything_is_sent() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu);
    emu.clear_requests();
    for args in [vec![], vec!["a", "b"], vec![".."], vec![""]] {
        let err = api
            .request(Method::GET, "/v2/boards/{}/diagrams", &args)
            .send::<Value>()
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest { .. }),
            "{args:?}: {err}"
        );
    }
    let err = api
        .request(Method::CONNECT, "/v2/boards", [""; 0])
        .send_empty()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    assert!(emu.requests().is_empty(), "{:?}", emu.requests());
}

#[tokio::test]
async fn raw_requests_are_paced_by_their_credits() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu);
    let board = board(&api).await;
    // Room for two reads of an unlisted path (50 credits each) per second.
    emu.set_rate_limit(100, Duration::from_secs(1));
    api.request(Method::GET, "/v2/boards/{}/diagrams", [&board])
        .send::<Value>()
        .await
        .unwrap();
    emu.clear_requests();
    for _ in 0..5 {
        api.request(Method::GET, "/v2/boards/{}/diagrams", [&board])
            .send::<Value>()
            .await
            .unwrap();
    }
    let limited = emu
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count();
    assert_eq!(limited, 0, "sent past the budget the headers reported");
}

#[tokio::test]
async fn comment_threads_are_created_replied_to_resolved_and_listed() {
    let emu = Emulator::start().await.unwrap();
    let api = client(&emu);
    let board = board(&api).await;
    let note = api
        .request(Method::POST, "/v2/boards/{}/sticky_notes", [&board])
        .json(&json!({"data": {"content": "hi"}}))
        .send::<Value>()
        .await
        .unwrap();
    let note_id = note["id"].as_str().unwrap().to_string();

    let canvas = api
        .create_comment(&board, &CommentCreate::new("First"))
        .await
        .unwrap();
    assert_eq!(canvas.status(), 201);
    let canvas = canvas.into_inner();
    assert!(!canvas.resolved);
    assert_eq!(canvas.messages.len(), 1);
    assert_eq!(canvas.messages[0].content, "First");
    assert_eq!(
        canvas.position.as_ref().unwrap().type_.as_deref(),
        Some("canvas")
    );
    assert!(canvas.created_by.as_ref().is_some_and(|a| !a.id.is_empty()));

    let attached = api
        .create_comment(&board, &CommentCreate::new("On the note").item_id(&note_id))
        .await
        .unwrap()
        .into_inner();
    let position = attached.position.unwrap();
    assert_eq!(position.type_.as_deref(), Some("attached"));
    assert_eq!(position.item_id.as_deref(), Some(note_id.as_str()));

    let replied = api
        .add_comment_message(&board, &canvas.id, "A reply")
        .await
        .unwrap()
        .into_inner();
    let contents: Vec<_> = replied
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(contents, ["First", "A reply"]);

    assert!(
        api.resolve_comment(&board, &canvas.id, true)
            .await
            .unwrap()
            .resolved
    );
    let fetched: CommentThread = api
        .get_comment(&board, &canvas.id)
        .await
        .unwrap()
        .into_inner();
    assert!(fetched.resolved);
    assert_eq!(fetched.messages.len(), 2);
    assert!(
        !api.resolve_comment(&board, &canvas.id, false)
            .await
            .unwrap()
            .resolved
    );

    for n in 0..5 {
        api.create_comment(&board, &CommentCreate::new(format!("more {n}")))
            .await
            .unwrap();
    }
    let page: CommentPage = api
        .list_comments(&board)
        .limit(3)
        .offset(2)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.total, Some(7));
    let firsts: Vec<_> = page
        .data
        .iter()
        .map(|t| t.messages[0].content.as_str())
        .collect();
    assert_eq!(firsts, ["more 0", "more 1", "more 2"]);

    let log = emu.requests();
    let listed = log.iter().rev().find(|r| r.method == "GET").unwrap();
    assert_eq!(
        listed.route.as_deref(),
        Some("/v2-experimental/boards/{board_id}/comments")
    );
    assert_eq!(listed.query_param("offset").as_deref(), Some("2"));

    let missing = api
        .get_comment(&board, "3458764500000000001")
        .await
        .unwrap_err();
    assert_eq!(missing.status().map(|s| s.as_u16()), Some(404));
    let empty = api
        .create_comment(&board, &CommentCreate::new(""))
        .await
        .unwrap_err();
    assert_eq!(empty.status().map(|s| s.as_u16()), Some(400));
    let no_delete = api
        .request(
            Method::DELETE,
            "/v2-experimental/boards/{}/comments/{}",
            [&board, &canvas.id],
        )
        .send_empty()
        .await
        .unwrap_err();
    assert_eq!(no_delete.status().map(|s| s.as_u16()), Some(405));
}

/// A thread as the live API answers one (the shape a live probe of the endpoints recorded:
/// `type`, `position` with `itemId` when attached, `messages` with their authors), fields this
/// client does not model included: it decodes, and what is modelled is kept.
#[test]
fn a_live_shaped_thread_decodes() {
    let body = json!({
        "id": "3458764600000000001",
        "type": "comment",
        "resolved": true,
        "createdAt": "2026-08-12T22:44:21Z",
        "createdBy": {"id": "3074457350000000001", "type": "user", "name": "Ana"},
        "position": {"type": "attached", "x": 0.0, "y": 0.0, "itemId": "3458764600000000002"},
        "messages": [
            {"id": "m1", "type": "message", "content": "Top", "createdAt": "2026-08-12T22:44:21Z",
             "createdBy": {"id": "3074457350000000001", "type": "user", "name": "Ana"},
             "reactions": []},
            {"id": "m2", "type": "message", "content": "Reply"}
        ],
        "links": {"self": "https://api.miro.com/v2-experimental/boards/b/comments/1"}
    });
    let thread: CommentThread = serde_json::from_value(body).unwrap();
    assert!(thread.resolved);
    assert_eq!(
        thread.position.unwrap().item_id.as_deref(),
        Some("3458764600000000002")
    );
    assert_eq!(thread.messages[1].content, "Reply");
    assert_eq!(thread.created_by.unwrap().name.as_deref(), Some("Ana"));
    let page: CommentPage = serde_json::from_value(json!({
        "data": [], "total": 0, "offset": 0, "size": 0, "limit": 20, "type": "list"
    }))
    .unwrap();
    assert_eq!((page.total, page.limit), (Some(0), Some(20)));
}
