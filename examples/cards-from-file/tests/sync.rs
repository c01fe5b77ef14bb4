//! The story end to end against the emulator: a file synced twice makes no writes the second
//! time, and a changed row changes exactly its card.

use cards_from_file::{input, sync, Options, Report};
use miro_api::types::WidgetDataOutput;
use miro_api::MiroApi;
use miro_api_extended::prelude::*;
use miro_emulator::{Emulator, RunningEmulator};
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
    let rows = input::parse_csv(text).expect("readable CSV");
    let options = Options {
        org_id: Some(org.to_owned()),
        ..Options::default()
    };
    sync(api, board, rows.rows, rows.errors, &options)
        .await
        .expect("sync runs")
}

/// Title, description and tag titles of every card, by id.
async fn cards(api: &MiroApi, board: &str) -> BTreeMap<String, (String, String, Vec<String>)> {
    let items: Vec<_> = api
        .get_items(board)
        .type_(miro_api::types::GetItemsType::Card)
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
    let emu = Emulator::start().await.unwrap();
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
