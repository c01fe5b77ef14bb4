//! Page streams against the emulator: the named helpers walk every entry exactly once, and the
//! stream stops, fails and resumes as documented.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use miro_api::operations::{self, Pagination, OPERATIONS};
use miro_api_extended::{PaginationError, PaginationExt, Position};
use miro_emulator::{Emulator, FallbackResponse, Fault, FaultKind};
use serde_json::{json, Value};

use common::{api, assert_exactly_once, emulator, gets};

const ITEMS: &str = "/v2/boards/{board_id}/items";

#[tokio::test]
async fn get_all_items_walks_every_item_once_in_pages_of_fifty() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "items").await;
    let ids = common::items(&api, &board, "sticky_note", 263, None).await;
    emu.clear_requests();

    let items: Vec<_> = api.get_all_items(&board).try_collect().await.unwrap();
    let seen: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    assert_exactly_once(&seen, &ids);
    assert!(items.iter().all(|i| i.type_ == "sticky_note"));

    let pages = gets(&emu, ITEMS);
    assert_eq!(pages.len(), 6, "263 items in pages of 50");
    assert!(pages
        .iter()
        .all(|r| r.query_param("limit").as_deref() == Some("50")));
    assert_eq!(pages[0].query_param("cursor"), None);
    assert!(pages[1..].iter().all(|r| r.query_param("cursor").is_some()));
}

#[tokio::test]
async fn get_all_items_filters_by_type() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "mixed").await;
    common::items(&api, &board, "sticky_note", 120, None).await;
    let cards = common::items(&api, &board, "card", 230, None).await;

    let seen: Vec<String> = api
        .get_all_items(&board)
        .query("type", "card")
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&seen, &cards);
    let logged = gets(&emu, ITEMS);
    assert!(logged
        .iter()
        .all(|r| r.query_param("type").as_deref() == Some("card")));
}

#[tokio::test]
async fn a_request_with_typed_filters_becomes_a_stream() {
    use miro_api::types::ItemType;
    use miro_api_extended::prelude::*;

    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "typed").await;
    common::items(&api, &board, "sticky_note", 45, None).await;
    let cards = common::items(&api, &board, "card", 25, None).await;
    emu.clear_requests();

    let seen: Vec<String> = api
        .get_items(&board)
        .type_(ItemType::Card)
        .limit(10)
        .stream()
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&seen, &cards);
    let pages = gets(&emu, ITEMS);
    assert_eq!(pages.len(), 3, "25 cards in pages of 10");
    assert!(pages.iter().all(|r| {
        r.query_param("type").as_deref() == Some("card")
            && r.query_param("limit").as_deref() == Some("10")
    }));

    // An offset-paged request with no filter set streams every entry.
    let boards: Vec<_> = api.get_boards().stream().try_collect().await.unwrap();
    assert!(boards.iter().any(|b| b.id == board));
}

#[tokio::test]
async fn a_request_with_a_required_query_parameter_streams_it_on_every_page() {
    use miro_api_extended::prelude::*;

    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "frame stream").await;
    let frame = common::frame(&api, &board).await;
    let inside = common::items(&api, &board, "sticky_note", 75, Some(&frame)).await;
    common::items(&api, &board, "sticky_note", 30, None).await;

    // `parent_item_id` is a required query parameter, not a path segment.
    let seen: Vec<String> = api
        .get_items_within_frame(&board, &frame)
        .stream()
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&seen, &inside);
}

#[tokio::test]
async fn get_all_items_within_frame_yields_only_its_children() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "frame").await;
    let frame = common::frame(&api, &board).await;
    let inside = common::items(&api, &board, "sticky_note", 240, Some(&frame)).await;
    common::items(&api, &board, "sticky_note", 60, None).await;

    let seen: Vec<String> = api
        .get_all_items_within_frame(&board, &frame)
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&seen, &inside);
}

#[tokio::test]
async fn get_all_items_by_tag_walks_the_offset_pages() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "tagged").await;
    let notes = common::items(&api, &board, "sticky_note", 300, None).await;
    let tag = common::tags(&api, &board, 1).await.remove(0);
    let tagged: Vec<String> = notes
        .iter()
        .step_by(3)
        .chain(notes.iter().skip(1).step_by(3))
        .cloned()
        .collect();
    common::attach(&api, &board, &tag, &tagged).await;
    emu.clear_requests();

    let seen: Vec<String> = api
        .get_all_items_by_tag(&board, &tag)
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&seen, &tagged);
    let pages = gets(&emu, ITEMS);
    let offsets: Vec<_> = pages
        .iter()
        .map(|r| r.query_param("offset").unwrap())
        .collect();
    assert_eq!(offsets, ["0", "50", "100", "150"], "200 tagged items");
}

#[tokio::test]
async fn get_all_connectors_walks_every_connector_once() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "connectors").await;
    let notes = common::items(&api, &board, "sticky_note", 271, None).await;
    let connectors = common::connectors(&api, &board, &notes).await;

    let seen: Vec<String> = api
        .get_all_connectors(&board)
        .map_ok(|c| c.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(connectors.len(), 270);
    assert_exactly_once(&seen, &connectors);
}

#[tokio::test]
async fn get_all_tags_from_board_walks_a_full_board_of_tags() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "tags").await;
    // A board holds at most 100 tags.
    let tags = common::tags(&api, &board, miro_emulator::MAX_TAGS_PER_BOARD).await;

    let seen: Vec<String> = api
        .get_all_tags_from_board(&board)
        .page_size(30)
        .map_ok(|t| t.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&seen, &tags);
    assert_eq!(gets(&emu, "/v2/boards/{board_id}/tags").len(), 4);
}

#[tokio::test]
async fn get_all_board_members_walks_every_member_once() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "members").await;
    common::members(&api, &board, 310).await;

    let members: Vec<_> = api
        .get_all_board_members(&board)
        .try_collect()
        .await
        .unwrap();
    let seen: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
    // The 310 invited and the owner.
    assert_eq!(members.len(), 311);
    let names: std::collections::HashSet<_> = members.iter().map(|m| m.name.clone()).collect();
    assert!((0..310).all(|i| names.contains(&format!("member{i}"))));
}

#[tokio::test]
async fn get_all_boards_walks_every_board_once() {
    let emu = emulator().await;
    let api = api(&emu);
    let mut ids = Vec::new();
    for i in 0..260 {
        ids.push(common::board(&api, &format!("board {i}")).await);
    }
    let seen: Vec<String> = api
        .get_all_boards()
        .map_ok(|b| b.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&seen, &ids);
    assert_eq!(gets(&emu, "/v2/boards").len(), 6);
}

#[tokio::test]
async fn a_repeated_cursor_ends_the_stream_with_an_error() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "loop").await;
    common::items(&api, &board, "sticky_note", 200, None).await;
    emu.inject_fault(Fault::new(FaultKind::RepeatedCursor).on("GET /v2/boards/{board_id}/items"))
        .unwrap();
    emu.clear_requests();

    let mut stream = api.get_all_items(&board);
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    // Bounded, so that a looping stream fails the test instead of hanging it.
    for _ in 0..1_000 {
        match stream.next().await {
            Some(Ok(item)) => ids.push(item.id),
            Some(Err(e)) => errors.push(e),
            None => break,
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        matches!(
            &errors[0],
            PaginationError::RepeatedCursor {
                operation: "get_items",
                ..
            }
        ),
        "{:?}",
        errors[0]
    );
    assert_eq!(
        ids.len(),
        100,
        "the first page and the one that repeats its cursor"
    );
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 100);
    assert!(stream.next().await.is_none());
    assert_eq!(stream.position(), None);
    assert_eq!(gets(&emu, ITEMS).len(), 2);
}

#[tokio::test]
async fn a_failed_page_is_an_error_item_and_the_stream_resumes_there() {
    let emu = emulator().await;
    // The transport would retry a 503 on a GET by itself; this test is about what the stream
    // does when a page still fails.
    let api = api(&emu).with_retry_policy(miro_api::RetryPolicy::none());
    let board = common::board(&api, "flaky").await;
    let ids = common::items(&api, &board, "sticky_note", 180, None).await;
    let mut stream = api.get_all_items(&board).prefetch(false);
    let mut seen = Vec::new();
    for _ in 0..60 {
        seen.push(stream.try_next().await.unwrap().unwrap().id);
    }
    // The next two page requests (the first try and one resume) fail.
    emu.inject_fault(
        Fault::new(FaultKind::ServerError(503))
            .on("GET /v2/boards/{board_id}/items")
            .times(2),
    )
    .unwrap();
    let mut failures = 0;
    loop {
        match stream.next().await {
            Some(Ok(item)) => seen.push(item.id),
            Some(Err(e)) => {
                failures += 1;
                assert!(failures <= 2, "{e}");
                assert_eq!(
                    e.api_error().and_then(|e| e.status()).map(|s| s.as_u16()),
                    Some(503)
                );
                let position = e.position().cloned().expect("a resumable error");
                assert!(
                    matches!(
                        &position,
                        Position::Cursor {
                            cursor: Some(_),
                            skip: 0
                        }
                    ),
                    "{position:?}"
                );
                assert_eq!(stream.position(), Some(position));
                assert!(stream.next().await.is_none(), "halted until resumed");
                stream.resume();
            }
            None => break,
        }
    }
    assert_eq!(failures, 2);
    assert_exactly_once(&seen, &ids);
}

#[tokio::test]
async fn a_saved_position_resumes_mid_page_without_loss_or_repeat() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "resume").await;
    let ids = common::items(&api, &board, "sticky_note", 137, None).await;
    common::members(&api, &board, 90).await;

    // Cursor paging: stop in the middle of the second page.
    let mut first = api.get_all_items(&board);
    let mut seen = Vec::new();
    for _ in 0..73 {
        seen.push(first.try_next().await.unwrap().unwrap().id);
    }
    let saved = serde_json::to_string(&first.position().unwrap()).unwrap();
    drop(first);
    let position: Position = serde_json::from_str(&saved).unwrap();
    assert!(
        matches!(
            &position,
            Position::Cursor {
                cursor: Some(_),
                skip: 23
            }
        ),
        "{position:?}"
    );
    let rest: Vec<String> = api
        .get_all_items(&board)
        .resume_from(position)
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    seen.extend(rest);
    assert_exactly_once(&seen, &ids);

    // Offset paging.
    let all: Vec<String> = api
        .get_all_board_members(&board)
        .map_ok(|m| m.id)
        .try_collect()
        .await
        .unwrap();
    let mut first = api.get_all_board_members(&board).page_size(20);
    let mut seen = Vec::new();
    for _ in 0..33 {
        seen.push(first.try_next().await.unwrap().unwrap().id);
    }
    assert_eq!(first.position(), Some(Position::offset(33)));
    let rest: Vec<String> = api
        .get_all_board_members(&board)
        .resume_from(first.position().unwrap())
        .map_ok(|m| m.id)
        .try_collect()
        .await
        .unwrap();
    seen.extend(rest);
    assert_exactly_once(&seen, &all);

    // A position of the other kind is a typed error.
    let err = api
        .get_all_board_members(&board)
        .resume_from(Position::cursor("abc"))
        .try_next()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PaginationError::PositionKind {
                expected: "offset",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn the_next_page_is_prefetched_and_no_further() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "prefetch").await;
    common::items(&api, &board, "sticky_note", 250, None).await;

    for (prefetch, expected) in [(true, 2), (false, 1)] {
        emu.clear_requests();
        let mut stream = api.get_all_items(&board).prefetch(prefetch);
        assert!(stream.try_next().await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(gets(&emu, ITEMS).len(), expected, "prefetch {prefetch}");
    }

    // Dropping the stream cancels the request in flight: the emulator logs a request when it
    // answers, and the prefetch (delayed) is cut off before that.
    let emu_delay = emu
        .inject_fault(
            Fault::new(FaultKind::Delay(Duration::from_millis(300))).on(format!("GET {ITEMS}")),
        )
        .unwrap();
    emu.clear_requests();
    let mut stream = api.get_all_items(&board);
    stream.try_next().await.unwrap();
    drop(stream);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        gets(&emu, ITEMS).len(),
        1,
        "the prefetch was answered after the drop"
    );
    emu.remove_fault(emu_delay);
}

#[tokio::test]
async fn bad_settings_are_typed_errors() {
    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "settings").await;
    emu.clear_requests();

    // A page size beyond what the list accepts is clamped into it, not sent into a 400.
    common::items(&api, &board, "sticky_note", 60, None).await;
    emu.clear_requests();
    let all: Vec<_> = api
        .get_all_items(&board)
        .page_size(51)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 60);
    let pages = gets(&emu, ITEMS);
    assert!(
        pages
            .iter()
            .all(|r| r.query_param("limit").as_deref() == Some("50")),
        "{pages:?}"
    );
    emu.clear_requests();
    let err = api
        .get_all_items(&board)
        .query("colour", "red")
        .try_next()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PaginationError::InvalidQuery { name, .. } if name == "colour"),
        "{err}"
    );
    let err = api
        .get_all_items(&board)
        .query("cursor", "x")
        .try_next()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PaginationError::InvalidQuery { name, .. } if name == "cursor"),
        "{err}"
    );
    assert!(
        emu.requests().is_empty(),
        "nothing is sent for a stream set up wrong"
    );
    assert_eq!(
        miro_api_extended::pagination::page_size_bounds(&operations::GET_ITEMS),
        (10, Some(50))
    );

    // An error page from Miro carries Miro's error.
    let err = api
        .get_all_items("no-such-board")
        .try_next()
        .await
        .unwrap_err();
    assert_eq!(
        err.api_error().and_then(|e| e.status()).map(|s| s.as_u16()),
        Some(404)
    );
}

/// An emulator whose fallback serves any unserved paginated GET: 25 entries in cursor pages
/// (the cursor is the index of the page's first entry).
async fn fallback_emulator(requests: Arc<AtomicUsize>) -> miro_emulator::RunningEmulator {
    Emulator::builder()
        .rate_limit(10_000_000, Duration::from_secs(60))
        .fallback(move |req| {
            if req.method != "GET" {
                return None;
            }
            requests.fetch_add(1, Ordering::SeqCst);
            let q: Vec<(String, String)> = req
                .query
                .as_deref()
                .map(|q| {
                    q.split('&')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let limit: usize = get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(10)
                .min(10);
            let start: usize = get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
            let end = (start + limit).min(25);
            let data: Vec<Value> = (start..end)
                .map(|i| json!({"id": format!("{}#{i}", req.path)}))
                .collect();
            let mut body =
                json!({"data": data, "size": end - start, "limit": limit, "type": "cursor-list"});
            if end < 25 {
                body["cursor"] = Value::from(end.to_string());
            }
            Some(FallbackResponse { status: 200, body })
        })
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_paginated_operation_of_the_table_streams() {
    let requests = Arc::new(AtomicUsize::new(0));
    let emu = fallback_emulator(requests.clone()).await;
    let api = api(&emu);
    let board = common::board(&api, "all").await;
    let mut via_fallback = 0;
    for op in OPERATIONS
        .iter()
        .filter(|op| op.pagination == Pagination::Cursor)
    {
        let args: Vec<&str> = op
            .path_params
            .iter()
            .map(|p| {
                if *p == "board_id" {
                    board.as_str()
                } else {
                    "3458764500000000001"
                }
            })
            .collect();
        let before = requests.load(Ordering::SeqCst);
        let result: Result<Vec<Value>, _> = api.paginate(op, &args).unwrap().try_collect().await;
        if requests.load(Ordering::SeqCst) > before {
            // Served by the fallback: all 25 entries, each once.
            let items = result.unwrap_or_else(|e| panic!("{}: {e}", op.method_name));
            let ids: std::collections::HashSet<_> =
                items.iter().map(|i| i["id"].to_string()).collect();
            assert_eq!((items.len(), ids.len()), (25, 25), "{}", op.method_name);
            via_fallback += 1;
        } else if let Err(e) = result {
            // Served by the emulator's own routes: an answer, or Miro's error for fake ids.
            assert!(e.api_error().is_some(), "{}: {e}", op.method_name);
        }
    }
    assert!(
        via_fallback >= 15,
        "only {via_fallback} operations reached the fallback"
    );
}

#[tokio::test]
async fn empty_pages_cycles_and_named_operations() {
    // A list whose third page is empty but names a next page, then loops back.
    let emu = Emulator::builder()
        .fallback(|req| {
            let cursor = req
                .query
                .as_deref()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("cursor="));
            let body = match (req.path.as_str(), cursor) {
                ("/v2/orgs/o1/cases", None) => json!({"data": [{"id": "1"}], "cursor": "a"}),
                ("/v2/orgs/o1/cases", Some("a")) => json!({"data": [{"id": "2"}], "cursor": "b"}),
                ("/v2/orgs/o1/cases", Some("b")) => json!({"data": [], "cursor": "c"}),
                ("/v2/orgs/o2/cases", None) => json!({"data": [{"id": "1"}], "cursor": "a"}),
                ("/v2/orgs/o2/cases", Some("a")) => json!({"data": [{"id": "2"}], "cursor": "b"}),
                ("/v2/orgs/o2/cases", Some("b")) => json!({"data": [{"id": "3"}], "cursor": "a"}),
                _ => return None,
            };
            Some(FallbackResponse { status: 200, body })
        })
        .start()
        .await
        .unwrap();
    let api = api(&emu);

    let empty_end: Vec<Value> = api
        .paginate_named("get_all_cases", &["o1"])
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(empty_end.len(), 2);

    let mut looping = api
        .paginate_named::<Value>("get-all-cases", &["o2"])
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..100 {
        match looping.next().await {
            Some(item) => got.push(item),
            None => break,
        }
    }
    assert_eq!(got.len(), 4, "three entries, then the error: {got:?}");
    assert!(
        matches!(got[3], Err(PaginationError::RepeatedCursor { ref cursor, .. }) if cursor == "a")
    );
    assert_eq!(emu.requests().len(), 6, "three pages of each list");
    assert_eq!(operations::GET_ALL_CASES.pagination, Pagination::Cursor);
}

#[tokio::test]
async fn a_limit_set_on_a_request_is_clamped_to_what_the_list_accepts() {
    use miro_api_extended::prelude::*;

    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "clamped").await;
    let ids = common::items(&api, &board, "card", 70, None).await;
    emu.clear_requests();
    let seen: Vec<String> = api
        .get_items(&board)
        .limit(500)
        .stream()
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&seen, &ids);
    let pages = gets(&emu, ITEMS);
    assert_eq!(pages.len(), 2, "70 items in pages of 50");
    assert!(pages
        .iter()
        .all(|r| r.query_param("limit").as_deref() == Some("50")));

    // Below the smallest page the list takes (10 for items; Miro answers 400 below it).
    emu.clear_requests();
    let seen: Vec<String> = api
        .get_items(&board)
        .limit(5)
        .stream()
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&seen, &ids);
    assert!(gets(&emu, ITEMS)
        .iter()
        .all(|r| r.query_param("limit").as_deref() == Some("10")));
}

#[tokio::test]
async fn a_list_filter_goes_with_every_page_with_all_its_values() {
    use miro_api_extended::prelude::*;

    // Content logs in three cursor pages, whatever the filters.
    let emu = Emulator::builder()
        .fallback(|req| {
            if !req.path.ends_with("/content-logs/items") {
                return None;
            }
            let cursor = req
                .query
                .as_deref()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("cursor="))
                .and_then(|c| c.parse::<u32>().ok())
                .unwrap_or(0);
            let log = |n: u32| json!({"id": format!("log{n}"), "relationships": []});
            let mut body =
                json!({"data": [log(2 * cursor), log(2 * cursor + 1)], "type": "cursor-list"});
            if cursor < 2 {
                body["cursor"] = json!((cursor + 1).to_string());
            }
            Some(FallbackResponse { status: 200, body })
        })
        .start()
        .await
        .unwrap();
    let api = api(&emu);
    let from = serde_json::from_value(json!("2026-01-01T00:00:00Z")).unwrap();
    let to = serde_json::from_value(json!("2026-02-01T00:00:00Z")).unwrap();
    let boards: Vec<String> = vec!["b1".into(), "b2".into(), "b3".into()];
    let emails: Vec<String> = vec!["a@example.com".into(), "b@example.com".into()];
    let logs: Vec<_> = api
        .enterprise_board_content_item_logs_fetch("o1", &from, &to)
        .board_ids(&boards)
        .emails(&emails)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(logs.len(), 6);
    let pages = gets(&emu, "/v2/orgs/{org_id}/content-logs/items");
    assert_eq!(pages.len(), 3);
    for page in &pages {
        let pairs: Vec<(String, String)> = query_pairs(page.query.as_deref().unwrap_or(""));
        let values = |name: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(values("board_ids"), ["b1", "b2", "b3"], "{:?}", page.query);
        assert_eq!(values("emails"), ["a@example.com", "b@example.com"]);
    }
}

/// The pairs of a query string, percent-decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn a_cursor_or_offset_set_on_a_request_is_where_its_stream_starts() {
    use miro_api::comments::CommentCreate;
    use miro_api::{PagedRequest, Paging};
    use miro_api_extended::prelude::*;

    let emu = emulator().await;
    let api = api(&emu);
    let board = common::board(&api, "resume").await;

    // Offset paging: the comments list, from its fourth thread on.
    for n in 0..7 {
        api.create_comment(&board, &CommentCreate::new(format!("t{n}")))
            .await
            .unwrap();
    }
    emu.clear_requests();
    let rest: Vec<String> = api
        .list_comments(&board)
        .offset(3)
        .limit(2)
        .stream()
        .map_ok(|t| t.messages[0].content.clone())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest, ["t3", "t4", "t5", "t6"]);
    let pages = gets(&emu, "/v2-experimental/boards/{board_id}/comments");
    assert_eq!(pages[0].query_param("offset").as_deref(), Some("3"));

    // Cursor paging: a request carrying a cursor (as the generated requests hand it over).
    let ids = common::items(&api, &board, "sticky_note", 30, None).await;
    let first = api.get_items(&board).limit(10).await.unwrap().into_inner();
    let cursor = first.cursor.clone().expect("a second page");
    struct FromCursor(Paging);
    impl PagedRequest for FromCursor {
        type Item = miro_api::types::GenericItem;
        fn into_paging(self) -> Paging {
            self.0
        }
    }
    let mut paging = Paging::new(api.clone(), &operations::GET_ITEMS, vec![board.clone()]);
    paging.query.push(("cursor".into(), cursor));
    paging.page_size = Some(10);
    let after: Vec<String> = FromCursor(paging)
        .stream()
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&after, &ids[10..]);

    // The same through the generated request's own `.cursor()`.
    let after: Vec<String> = api
        .get_items(&board)
        .cursor(first.cursor.as_deref().unwrap())
        .limit(10)
        .stream()
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&after, &ids[10..]);
}

/// A local server answering every GET with the page its `cursor` (`c<n>`, none: page 0) or
/// `offset` names, noting the query of each request.
async fn pages_server(
    pages: Vec<Value>,
    offsets: Vec<u64>,
) -> (miro_api::MiroApiBuilder, Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::extract::{RawQuery, State};
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let state = (Arc::new(pages), Arc::new(offsets), seen.clone());
    type Pages = (
        Arc<Vec<Value>>,
        Arc<Vec<u64>>,
        Arc<std::sync::Mutex<Vec<String>>>,
    );
    async fn answer(
        State((pages, offsets, seen)): State<Pages>,
        RawQuery(query): RawQuery,
    ) -> axum::Json<Value> {
        let query = query.unwrap_or_default();
        seen.lock().unwrap().push(query.clone());
        let pairs = query_pairs(&query);
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let index = match (get("cursor"), get("offset")) {
            (Some(c), _) => c.trim_start_matches('c').parse().unwrap(),
            (None, Some(o)) => {
                let o: u64 = o.parse().unwrap();
                offsets.iter().position(|x| *x == o).unwrap_or(usize::MAX)
            }
            (None, None) => 0,
        };
        axum::Json(pages.get(index).cloned().unwrap_or(json!({"data": []})))
    }
    let app = axum::Router::new().fallback(answer).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let api = miro_api::MiroApi::builder()
        .base_url(format!("http://{addr}"))
        .access_token("t")
        .pacing(false);
    (api, seen)
}

fn item(i: usize) -> Value {
    json!({"id": format!("i{i}"), "type": "sticky_note", "data": {"content": "x"}})
}

#[tokio::test]
async fn an_item_that_does_not_decode_is_left_out_and_reported_never_its_page() {
    // Page 0: items 3 (id a number) and 7 (no type) are malformed. Page 1: every item is.
    // Page 2: all good.
    let mut first: Vec<Value> = (0..50).map(item).collect();
    first[3]["id"] = json!(3);
    first[7].as_object_mut().unwrap().remove("type");
    let second: Vec<Value> = (50..100)
        .map(|i| json!({"id": format!("i{i}"), "type": 5}))
        .collect();
    let third: Vec<Value> = (100..110).map(item).collect();
    let pages = vec![
        json!({"data": first, "cursor": "c1", "type": "cursor-list"}),
        json!({"data": second, "cursor": "c2", "type": "cursor-list"}),
        json!({"data": third, "type": "cursor-list"}),
    ];
    let (builder, requests) = pages_server(pages, Vec::new()).await;
    let api = builder.build();

    let mut stream = api.get_all_items("b");
    let mut seen = Vec::new();
    while let Some(item) = stream.try_next().await.unwrap() {
        seen.push(item.id);
    }
    let want: Vec<String> = (0..50)
        .chain(100..110)
        .filter(|i| ![3, 7].contains(i))
        .map(|i| format!("i{i}"))
        .collect();
    assert_eq!(seen, want, "every good item, once, in order");
    assert_eq!(
        requests.lock().unwrap().len(),
        3,
        "the empty page did not end the walk"
    );
    assert_eq!(stream.dropped_items(), 52);
    let warnings = stream.take_decode_warnings();
    let dropped: Vec<_> = warnings
        .iter()
        .filter_map(|w| match w.kind {
            miro_api::decode::DecodeWarningKind::ItemDropped { index } => Some((index, w)),
            _ => None,
        })
        .collect();
    assert_eq!(dropped.len(), 52);
    assert_eq!((dropped[0].0, dropped[0].1.path.as_str()), (3, "data[3]"));
    assert_eq!(dropped[0].1.value["id"], 3, "the raw item is kept");
    assert_eq!(dropped[1].1.value["id"], "i7");
    assert!(dropped[1].1.message.contains("missing field `type`"));
    assert!(stream.take_decode_warnings().is_empty(), "taken");

    // A position taken mid-page counts the page's items as received: resuming from it
    // neither repeats nor skips.
    let mut stream = api.get_all_items("b").prefetch(false);
    for _ in 0..5 {
        stream.try_next().await.unwrap().unwrap();
    }
    let at = stream.position().unwrap();
    assert_eq!(
        at,
        Position::Cursor {
            cursor: None,
            skip: 6
        },
        "i0, i1, i2, (i3), i4, i5 were passed"
    );
    let rest: Vec<String> = api
        .get_all_items("b")
        .resume_from(at)
        .map_ok(|i| i.id)
        .take(3)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest, ["i6", "i8", "i9"]);

    // Strict decoding fails the page instead, with the body as received.
    let (builder, _) = pages_server(
        vec![json!({"data": [item(0), {"id": 1, "type": "x"}]})],
        Vec::new(),
    )
    .await;
    let strict = builder.strict_decoding(true).build();
    let err = strict.get_all_items("b").try_next().await.unwrap_err();
    match err.api_error() {
        Some(miro_api::Error::Decode { body, source, .. }) => {
            assert!(body.contains(r#""id":1"#), "{body}");
            assert!(source.to_string().contains("data[1].id"), "{source}");
        }
        other => panic!("expected a decode error: {other:?}"),
    }
}

#[tokio::test]
async fn an_offset_walk_counts_an_item_left_out_as_received() {
    let board =
        |i: usize| json!({"id": format!("b{i}"), "name": format!("board {i}"), "type": "board"});
    let mut first: Vec<Value> = (0..3).map(board).collect();
    first[1]["name"] = json!(5);
    let pages = vec![
        json!({"data": first, "total": 5, "offset": 0, "limit": 3}),
        json!({"data": [board(3), board(4)], "total": 5, "offset": 3, "limit": 3}),
    ];
    let (builder, requests) = pages_server(pages, vec![0, 3]).await;
    let api = builder.build();
    let mut stream = api.get_all_boards().page_size(3);
    let mut names = Vec::new();
    while let Some(b) = stream.try_next().await.unwrap() {
        names.push(b.id);
    }
    assert_eq!(names, ["b0", "b2", "b3", "b4"]);
    assert_eq!(stream.dropped_items(), 1);
    let offsets: Vec<Option<String>> = requests
        .lock()
        .unwrap()
        .iter()
        .map(|q| {
            query_pairs(q)
                .into_iter()
                .find(|(k, _)| k == "offset")
                .map(|(_, v)| v)
        })
        .collect();
    assert_eq!(offsets, [Some("0".to_string()), Some("3".to_string())]);
}
