//! Comment threads: bounded, answered whole after each reply, and gone with their board.

mod common;

use common::Api;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_thread_holds_at_most_its_limit_of_messages() {
    let api = Api::start().await;
    let board = api.board("talk").await;
    let base = format!("/v2-experimental/boards/{board}/comments");
    let (status, thread) = api
        .call(Method::POST, &base, Some(json!({"content": "first"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = thread["id"].as_str().unwrap().to_string();
    let replies = format!("{base}/{id}/messages");
    for i in 1..miro_emulator::MAX_COMMENT_MESSAGES {
        let (status, thread) = api
            .call(
                Method::POST,
                &replies,
                Some(json!({"content": format!("reply {i}")})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{thread}");
        let messages = thread["messages"].as_array().unwrap();
        assert_eq!(messages.len(), i + 1);
        assert_eq!(messages[i]["content"], format!("reply {i}"));
    }
    let (status, body) = api
        .call(
            Method::POST,
            &replies,
            Some(json!({"content": "one too many"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("500"), "{body}");

    // The thread as stored: every message in order, resolvable, listed.
    let (status, _) = api
        .call(
            Method::PATCH,
            &format!("{base}/{id}"),
            Some(json!({"resolved": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, thread) = api.call(Method::GET, &format!("{base}/{id}"), None).await;
    let messages = thread["messages"].as_array().unwrap();
    assert_eq!(messages.len(), miro_emulator::MAX_COMMENT_MESSAGES);
    assert_eq!(messages[0]["content"], "first");
    assert_eq!(messages[499]["content"], "reply 499");
    assert_eq!(thread["resolved"], true);
    let (_, page) = api.call(Method::GET, &base, None).await;
    assert_eq!(page["data"][0], thread);

    // Deleting the board deletes its threads.
    let (status, _) = api
        .call(Method::DELETE, &format!("/v2/boards/{board}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.call(Method::GET, &format!("{base}/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
