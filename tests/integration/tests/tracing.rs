//! The transport's `tracing` output. In a process of its own: `tracing` caches per call site
//! whether anyone listens, and tests running beside it on other threads would race that cache.

use miro_api::{MiroApi, RetryPolicy};
use miro_emulator::{Emulator, Fault, FaultKind};

#[tokio::test]
async fn every_call_has_a_span_with_the_operation_and_never_the_token() {
    let emu = Emulator::start().await.unwrap();
    let api = MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .retry_policy(RetryPolicy::new().backoff(
            std::time::Duration::from_millis(1),
            std::time::Duration::from_millis(5),
        ))
        .build();
    let board = api
        .create_board(&Default::default())
        .await
        .unwrap()
        .id
        .clone();
    emu.inject_fault(
        Fault::new(FaultKind::ServerError(503))
            .on("GET /v2/boards/{board_id}")
            .times(1),
    )
    .unwrap();
    let captured = miro_tests::log_capture::Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    api.get_specific_board(&board).await.unwrap();
    // A raw request to a path the spec lacks has the same span, named by its template.
    api.request(miro_api::Method::GET, "/v2/boards/{}/diagrams", [&board])
        .send::<serde_json::Value>()
        .await
        .unwrap();
    drop(guard);
    let text = captured.text();
    for expected in [
        "operation=\"get-specific-board\"",
        "method=\"GET\"",
        "path=\"/v2/boards/{board_id}\"",
        "status=200",
        "attempts=2",
        "budget_wait_ms=0",
        "retrying",
        "operation=\"/v2/boards/{}/diagrams\"",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(
        !text.contains(&emu.access_token()),
        "the token leaked:\n{text}"
    );
    assert!(!text.contains(&board), "the raw URL leaked:\n{text}");
}
