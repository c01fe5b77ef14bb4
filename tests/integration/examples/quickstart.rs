//! Quickstart: create a board, a few items and a tag, then list them.
//!
//! Runs offline against the in-process Miro emulator, or against api.miro.com when
//! `MIRO_ACCESS_TOKEN` is set:
//!
//! ```sh
//! cargo run -p miro-tests --example quickstart
//! MIRO_ACCESS_TOKEN=... cargo run -p miro-tests --example quickstart
//! ```

use miro_api::types::{self, WidgetDataOutput};
use miro_api::MiroApi;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the emulator alive for the whole run; `None` when talking to the real Miro.
    let (api, _emulator) = match std::env::var("MIRO_ACCESS_TOKEN") {
        Ok(token) => (MiroApi::new(token), None),
        Err(_) => {
            let emulator = miro_emulator::Emulator::start().await?;
            println!("Miro emulator running at {}", emulator.base_url());
            let api = MiroApi::builder()
                .base_url(emulator.base_url())
                .access_token(emulator.access_token())
                .build();
            (api, Some(emulator))
        }
    };

    let board = api
        .create_board(&types::BoardChanges {
            name: Some("miro-rs quickstart".into()),
            description: Some("Created by the miro-api quickstart".into()),
            ..Default::default()
        })
        .await?;
    println!("created board {} ({})", board.name, board.id);

    let note: types::StickyNoteCreateRequest = serde_json::from_value(serde_json::json!({
        "data": {"content": "Hello from Rust", "shape": "square"},
        "position": {"x": 0, "y": 0}
    }))?;
    let note = api.create_sticky_note_item(&board.id, &note).await?;
    let card: types::CardCreateRequest = serde_json::from_value(serde_json::json!({
        "data": {"title": "Write the docs", "description": "Quickstart card"},
        "position": {"x": 400, "y": 0}
    }))?;
    let card = api.create_card_item(&board.id, &card).await?;
    println!("created sticky note {} and card {}", note.id, card.id);

    // An update sends only the fields it sets: the note keeps its shape and position.
    let update = types::StickyNoteUpdateRequest {
        data: Some(types::StickyNoteData {
            content: Some("Hello again from Rust".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let note = api
        .update_sticky_note_item(&board.id, &note.id, &update)
        .await?;
    if let Some(d) = &note.data {
        println!(
            "updated the note's text; its shape is still {}",
            d.shape.as_ref().map_or("unset", |s| s.as_str())
        );
    }

    let tag = api
        .create_tag(
            &board.id,
            &types::TagCreateRequest {
                title: "todo".into(),
                fill_color: Some(types::TagCreateRequestFillColor::Red),
            },
        )
        .await?;
    api.attach_tag_to_item(&board.id, &card.id, &tag.id).await?;
    println!("tagged the card with '{}'", tag.title);

    let items = api.get_items(&board.id).limit(50).await?;
    println!("the board has {} items:", items.data.len());
    for item in &items.data {
        let what = match &item.data {
            Some(WidgetDataOutput::StickyNoteData(d)) => {
                format!("sticky note: {}", d.content.as_deref().unwrap_or(""))
            }
            Some(WidgetDataOutput::CardData(d)) => {
                format!("card: {}", d.title.as_deref().unwrap_or(""))
            }
            _ => item.type_.clone(),
        };
        let tags = api.get_tags_from_item(&board.id, &item.id).await?;
        let tags: Vec<&str> = tags.tags.iter().map(|t| t.title.as_str()).collect();
        println!("  {} {what} tags={tags:?}", item.id);
    }
    if let Some(limit) = items.rate_limit() {
        println!(
            "rate limit: {} of {} credits left",
            limit.remaining, limit.limit
        );
    }
    Ok(())
}
