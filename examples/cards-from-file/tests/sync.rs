//! The story end to end against the emulator: a file synced twice makes no writes the second
//! time, and a changed row changes exactly its card.

use cards_from_file::{input, sync, Options, Report};
use miro_api::types::WidgetDataOutput;
use miro_api::MiroApi;
use miro_api_extended::prelude::*;
use miro_emulator::{Emulator, Fault, FaultKind, RunningEmulator};
use std::collections::BTreeMap;

fn csv(rows: &[String]) -> String {
    let mut text = String::from("key,title,description,due_date,assignee,tags\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    text
}

fn sample() -> Vec<String> {
    let mut rows: Vec<String> = (1..=25)
        .map(|i| {
            let tags = match i % 3 {
                0 => "backend;urgent",
                1 => "frontend",
                _ => "",
            };
            format!("K-{i},Card {i},Text {i},2026-12-{:02},,{tags}", i % 28 + 1)
        })
        .collect();
    // Line 27: assigned by email (an organisation member of the emulator).
    rows.push("K-26,Assigned,,,member1@emulator.example.com,".into());
    // Lines 28-30: invalid rows, reported, not stopping the others.
    rows.push("K-27,,no title,,,".into());
    rows.push(format!("K-28,Too long a tag,,,,{}", "x".repeat(121)));
    rows.push("K-1,Duplicate key,,,,".into());
    rows
}

async fn run(api: &MiroApi, board: &str, text: &str, org: &str) -> Report {
    let options = Options {
        org_id: Some(org.to_owned()),
        ..Options::default()
    };
    run_with(api, board, text, &options).await
}

async fn run_with(api: &MiroApi, board: &str, text: &str, options: &Options) -> Report {
    let rows = input::parse_csv(text).expect("readable CSV");
    sync(api, board, rows.rows, rows.errors, options)
        .await
        .expect("sync runs")
}

/// Title, description and tag titles of every card, by id.
async fn cards(api: &MiroApi, board: &str) -> BTreeMap<String, (String, String, Vec<String>)> {
    let items: Vec<_> = api
        .get_items(board)
        .type_(miro_api::types::ItemType::Card)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for item in items {
        let Some(WidgetDataOutput::CardData(d)) = item.data else {
            panic!("card without card data")
        };
        let tags = api.get_tags_from_item(board, &item.id).await.unwrap();
        let mut tags: Vec<String> = tags.tags.iter().map(|t| t.title.clone()).collect();
        tags.sort();
        out.insert(
            item.id,
            (
                d.title.unwrap_or_default(),
                d.description.unwrap_or_default(),
                tags,
            ),
        );
    }
    out
}

fn writes(emu: &RunningEmulator) -> Vec<String> {
    emu.requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn second_run_writes_nothing_and_a_changed_row_changes_only_its_card() {
    let (emu, api, board) = board().await;
    let org = emu.org_id();

    // First run: 26 cards in two bulk calls, three tags, three rows reported by line.
    let mut rows = sample();
    emu.clear_requests();
    let report = run(&api, &board, &csv(&rows), &org).await;
    assert_eq!(report.created.len(), 26, "{:?}", report.failed);
    let failed: Vec<usize> = report.failed.iter().map(|e| e.line).collect();
    assert_eq!(failed, [28, 29, 30], "{:?}", report.failed);
    let mut tags = report.tags_created.clone();
    tags.sort();
    assert_eq!(tags, ["backend", "frontend", "urgent"]);
    let log = writes(&emu);
    let bulk = log.iter().filter(|w| w.ends_with("/items/bulk")).count();
    assert_eq!(bulk, 2, "cards are created in bulk, 20 per call: {log:?}");
    assert!(!log.iter().any(|w| w.contains("/cards")), "{log:?}");

    let before = cards(&api, &board).await;
    assert_eq!(before.len(), 26);
    let card3 = before.values().find(|c| c.0 == "Card 3").unwrap();
    assert_eq!(card3.2, ["backend", "urgent"]);
    assert!(card3.1.starts_with("Text 3"), "{}", card3.1);
    let assigned = report.created.iter().find(|c| c.1 == "K-26").unwrap();
    let item = api.get_card_item(&board, &assigned.2).await.unwrap();
    let assignee = item.data.as_ref().and_then(|d| d.assignee_id.clone());
    assert!(assignee.is_some(), "the email was resolved to a user id");

    // Second run, same file: reads only.
    emu.clear_requests();
    let report = run(&api, &board, &csv(&rows), &org).await;
    assert_eq!(report.unchanged, 26);
    assert!(report.created.is_empty() && report.updated.is_empty());
    assert_eq!(writes(&emu), Vec::<String>::new(), "no write calls");
    assert!(!emu.requests().is_empty(), "the board was read");

    // One row changed (title and tags): exactly that card changes.
    rows[6] = "K-7,Card 7 renamed,Text 7,2026-12-08,,urgent".into();
    emu.clear_requests();
    let report = run(&api, &board, &csv(&rows), &org).await;
    assert_eq!(report.updated.len(), 1);
    assert_eq!(report.unchanged, 25);
    let id = report.updated[0].2.clone();
    for write in writes(&emu) {
        assert!(
            write.contains(&id),
            "a write outside the changed card: {write}"
        );
    }
    let after = cards(&api, &board).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert_eq!(changed, [&id]);
    assert_eq!(after[&id].0, "Card 7 renamed");
    assert_eq!(
        after[&id].2,
        ["urgent"],
        "frontend detached, urgent attached"
    );
}

#[tokio::test]
async fn json_rows_sync_too() {
    let (_emu, api, board) = board().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cards.json");
    std::fs::write(
        &path,
        r#"[
  {"key": "J-1", "title": "From JSON", "tags": ["json"], "due_date": "2026-12-01T10:00:00Z"},
  {"key": "J-2", "title": "Bad", "assignee": "someone@example.com"}
]"#,
    )
    .unwrap();
    let rows = input::read_file(&path).unwrap();
    let report = sync(&api, &board, rows.rows, rows.errors, &Options::default())
        .await
        .unwrap();
    assert_eq!(report.created.len(), 1);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(
        report.failed[0].line, 3,
        "an email without --org-id: reported"
    );
    assert_eq!(report.tags_created, ["json"]);
}

/// An emulator (no rate limit to speak of, three organisation members) with an empty board.
async fn board() -> (RunningEmulator, MiroApi, String) {
    let emu = Emulator::builder()
        .enterprise(3, 1, 1)
        .rate_limit(1_000_000, std::time::Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let api = MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .build();
    let board = api
        .create_board(&Default::default())
        .await
        .unwrap()
        .id
        .clone();
    (emu, api, board)
}

/// How many cards of the board carry each key.
async fn cards_per_key(api: &MiroApi, board: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (_, (_, description, _)) in cards(api, board).await {
        let (key, _) = cards_from_file::parse_marker(&description).expect("a marker");
        *out.entry(key).or_default() += 1;
    }
    out
}

fn rows(n: usize) -> String {
    csv(&(1..=n)
        .map(|i| format!("K-{i},Card {i},,,,t{}", i % 2))
        .collect::<Vec<_>>())
}

const BULK: &str = "POST /v2/boards/{board_id}/items/bulk";
const ONE_CARD: &str = "POST /v2/boards/{board_id}/cards";

fn calls(emu: &RunningEmulator, route: &str) -> usize {
    emu.requests()
        .iter()
        .filter(|r| format!("{} {}", r.method, r.route.clone().unwrap_or_default()) == route)
        .count()
}

#[tokio::test]
async fn an_unknown_bulk_outcome_is_resolved_on_the_board_and_no_card_is_made_twice() {
    // A malformed answer (the cards were made), a 500, a lost connection (nothing was made).
    for kind in [
        FaultKind::MalformedJson,
        FaultKind::ServerError(500),
        FaultKind::DropConnection,
    ] {
        let (emu, api, board) = board().await;
        emu.inject_fault(Fault::new(kind.clone()).on(BULK).times(1))
            .unwrap();
        let report = run_with(&api, &board, &rows(5), &Options::default()).await;
        assert_eq!(report.created.len(), 5, "{kind:?}: {:?}", report.failed);
        assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
        let per_key = cards_per_key(&api, &board).await;
        assert_eq!(per_key.len(), 5, "{kind:?}");
        assert!(per_key.values().all(|n| *n == 1), "{kind:?}: {per_key:?}");
        assert_eq!(calls(&emu, ONE_CARD), 0, "{kind:?}: no card by card");
        let bulk = calls(&emu, BULK);
        let expected = if kind == FaultKind::MalformedJson {
            1
        } else {
            2
        };
        assert_eq!(bulk, expected, "{kind:?}: sent again only when not made");
        // Every card has its tag.
        for (_, (title, _, tags)) in cards(&api, &board).await {
            assert_eq!(tags.len(), 1, "{kind:?}: {title}");
        }
    }
}

#[tokio::test]
async fn a_refused_bulk_create_made_nothing_and_goes_card_by_card() {
    let (emu, api, board) = board().await;
    emu.inject_fault(Fault::new(FaultKind::ServerError(400)).on(BULK).times(1))
        .unwrap();
    let report = run_with(&api, &board, &rows(3), &Options::default()).await;
    assert_eq!(report.created.len(), 3, "{:?}", report.failed);
    assert_eq!(calls(&emu, ONE_CARD), 3);
    assert_eq!(
        calls(&emu, "GET /v2/boards/{board_id}/items"),
        1,
        "no read-back"
    );
    assert!(cards_per_key(&api, &board).await.values().all(|n| *n == 1));
}

#[tokio::test]
async fn a_key_on_two_cards_is_reported_and_rows_gone_from_the_file_too() {
    let (emu, api, board) = board().await;
    let report = run_with(&api, &board, &rows(3), &Options::default()).await;
    assert_eq!(report.created.len(), 3);
    // Someone duplicates K-2's card in Miro.
    let (_, _, k2) = report
        .created
        .iter()
        .find(|c| c.1 == "K-2")
        .unwrap()
        .clone();
    let original = api.get_card_item(&board, &k2).await.unwrap().into_inner();
    let copy = miro_api::types::CardCreateRequest::default()
        .data(
            miro_api::types::CardData::default()
                .title("Card 2 (copy)")
                .description(original.data.unwrap().description.unwrap()),
        )
        .at(0, 900);
    let copy = api
        .create_card_item(&board, &copy)
        .await
        .unwrap()
        .id
        .clone();

    // K-2 changes and K-3 leaves the file.
    let text = csv(&["K-1,Card 1,,,,t1".into(), "K-2,Card 2 changed,,,,t0".into()]);
    emu.clear_requests();
    let report = run_with(&api, &board, &text, &Options::default()).await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].line, 3);
    assert!(
        report.failed[0].message.contains("on 2 cards") && report.failed[0].message.contains(&copy),
        "{}",
        report.failed[0].message
    );
    assert!(report.updated.is_empty(), "neither card is guessed at");
    assert_eq!(writes(&emu), Vec::<String>::new());
    let k3 = report.created.len();
    assert_eq!(k3, 0);
    assert_eq!(report.removed.len(), 1, "{:?}", report.removed);
    assert_eq!(report.removed[0].0, "K-3");
}

#[tokio::test]
async fn tag_colours_are_set_on_new_tags_and_changed_on_existing_ones() {
    use miro_api::types::TagFillColor;
    let (_emu, api, board) = board().await;
    let existing = api
        .create_tag(&board, &miro_api::types::TagCreateRequest::new("t0"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(existing.fill_color, TagFillColor::Blue);
    let mut options = Options::default();
    options.tag_colors.insert("t0".into(), TagFillColor::Blue);
    options
        .tag_colors
        .insert("t1".into(), TagFillColor::DarkGreen);
    let report = run_with(&api, &board, &rows(2), &options).await;
    assert_eq!(report.tags_created, ["t1"]);
    assert_eq!(report.tags_recoloured, ["t0"]);
    let tags: Vec<miro_api::types::Tag> = api
        .get_all_tags_from_board(&board)
        .try_collect()
        .await
        .unwrap();
    let colour = |t: &str| {
        tags.iter()
            .find(|x| x.title == t)
            .unwrap()
            .fill_color
            .clone()
    };
    assert_eq!(colour("t0"), TagFillColor::Blue);
    assert_eq!(colour("t1"), TagFillColor::DarkGreen);
}

#[tokio::test]
async fn a_card_whose_tags_failed_is_finished_by_the_next_run_attaching_only_what_is_missing() {
    let (emu, api, board) = board().await;
    let untagged = csv(&["K-1,Card 1,,,,".into()]);
    assert_eq!(
        run_with(&api, &board, &untagged, &Options::default())
            .await
            .created
            .len(),
        1
    );
    // Three tags to attach; the first attach fails.
    let tagged = csv(&["K-1,Card 1,,,,a;b;c".into()]);
    let attach = "POST /v2/boards/{board_id}/items/{item_id}";
    emu.inject_fault(Fault::new(FaultKind::ServerError(400)).on(attach).times(1))
        .unwrap();
    let report = run_with(&api, &board, &tagged, &Options::default()).await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].message.contains("next run"), "{report:?}");
    let tags = &cards(&api, &board).await.into_values().next().unwrap().2;
    assert_eq!(tags.len(), 2, "the other two were attached");

    // The next run sees the card as stale and attaches the one missing tag only.
    emu.clear_requests();
    let report = run_with(&api, &board, &tagged, &Options::default()).await;
    assert_eq!(report.updated.len(), 1, "{report:?}");
    assert_eq!(calls(&emu, attach), 1, "{:?}", writes(&emu));
    let tags = &cards(&api, &board).await.into_values().next().unwrap().2;
    assert_eq!(tags, &["a", "b", "c"]);
    // And then it is up to date.
    emu.clear_requests();
    let report = run_with(&api, &board, &tagged, &Options::default()).await;
    assert_eq!(report.unchanged, 1);
    assert_eq!(writes(&emu), Vec::<String>::new());
}
