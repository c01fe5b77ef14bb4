//! Quickstart: create a board, a few items and a tag, then list them.
//!
//! Runs offline against the in-process Miro emulator, or against api.miro.com when
//! `MIRO_ACCESS_TOKEN` is set:
//!
//! ```sh
//! cargo run -p miro-tests --example quickstart
//! MIRO_ACCESS_TOKEN=... cargo run -p miro-tests --example quickstart
//! ```

use miro_api::types::{
    BoardChanges, CardCreateRequest, CardData, StickyNoteCreateRequest, StickyNoteData,
    StickyNoteUpdateRequest, TagCreateRequest, TagFillColor, WidgetDataOutput,
};
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

    let board = BoardChanges::default()
        .name("miro-rs quickstart")
        .description("Created by the miro-api quickstart");
    let board = api.create_board(&board).await?.into_inner();
    println!("created board {} ({})", board.name, board.id);

    let note = StickyNoteCreateRequest::default()
        .data(StickyNoteData::default().content("Hello from Rust"))
        .at(0, 0);
    let note = api.create_sticky_note_item(&board.id, &note).await?;
    let card = CardCreateRequest::default()
        .data(CardData::default().title("Write the docs"))
        .at(400, 0);
    let card = api.create_card_item(&board.id, &card).await?;
    println!("created sticky note {} and card {}", note.id, card.id);

    // An update sends only the fields it sets: the note keeps its shape and position.
    let update = StickyNoteUpdateRequest::default()
        .data(StickyNoteData::default().content("Hello again from Rust"));
    let note = api
        .update_sticky_note_item(&board.id, &note.id, &update)
        .await?;
    let shape = note.data.as_ref().and_then(|d| d.shape.as_ref());
    println!(
        "updated the note's text; its shape is still {}",
        shape.map_or("unset", |s| s.as_str())
    );

    let tag = TagCreateRequest::new("todo").fill_color(TagFillColor::Red);
    let tag = api.create_tag(&board.id, &tag).await?;
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
            _ => item.type_.to_string(),
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
