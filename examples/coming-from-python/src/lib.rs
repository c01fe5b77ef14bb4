//! The official Python client's README, step by step, in Rust. Each step names the Python
//! call it mirrors; `docs/coming-from-python.md` has the whole table.

#![warn(missing_docs)]

pub mod folder_store;

use miro_api::types::{
    BoardChanges, StickyNoteCreateRequest, StickyNoteData, StickyNoteUpdateRequest,
};
use miro_api_extended::prelude::*;
use miro_api_extended::Miro;

/// What the low-level part of the README made: the board created and the board read back.
#[derive(Debug, Default)]
pub struct Board {
    /// The id of the board `create_board` made.
    pub created_id: String,
    /// The id `get_board` (Rust: `get_specific_board`) answered with.
    pub fetched_id: String,
    /// The name it answered with.
    pub fetched_name: String,
}

/// The README's low-level client: `api = MiroApi("<token>")`, then `api.create_board()` and
/// `api.get_board(board_id)`. `api` is `MiroApi::new(token)` against Miro (the caller builds
/// it, so that a test can point it at the emulator).
pub async fn create_and_get_board(api: &MiroApi) -> Result<Board, Box<dyn std::error::Error>> {
    // Python: board = api.create_board()
    let created = api
        .create_board(&BoardChanges::default())
        .await?
        .into_inner();
    println!("created board {} ({})", created.name, created.id);
    // Python: board = api.get_board(board_id)   (the operation is getSpecificBoard)
    let fetched = api.get_specific_board(&created.id).await?.into_inner();
    println!("read it back: {} ({})", fetched.name, fetched.id);
    Ok(Board {
        created_id: created.id,
        fetched_id: fetched.id,
        fetched_name: fetched.name,
    })
}

/// What the tour made, for a caller (or a test) to look at.
#[derive(Debug, Default)]
pub struct Tour {
    /// The names of the user's boards, as `get_all_boards` streamed them.
    pub boards: Vec<String>,
    /// The board the tour created.
    pub board_id: String,
    /// The sticky note created, updated and then deleted.
    pub sticky_note_id: String,
    /// The note's text after the update.
    pub updated_content: String,
    /// The board's members: (id, name, role).
    pub members: Vec<(String, String, String)>,
}

/// Acts as `user_id` (already authorized): lists their boards, creates a board, creates,
/// updates and deletes a sticky note on it, and lists the board's members. Prints each step.
pub async fn tour(miro: &Miro, user_id: &str) -> Result<Tour, Box<dyn std::error::Error>> {
    // Python: api = miro.api   (a Python `Miro` holds one user; a Rust `Miro` serves them all)
    let api = miro.as_user(user_id);

    // Python: for board in api.get_all_boards(): print(board.name)
    let mut tour = Tour::default();
    let mut boards = api.get_all_boards();
    while let Some(board) = boards.try_next().await? {
        println!("board: {} ({})", board.name, board.id);
        tour.boards.push(board.name);
    }

    // Python: board = api.create_board(BoardChanges(name="From Rust"))
    let board = api
        .create_board(&BoardChanges::default().name("From Rust"))
        .await?
        .into_inner();
    println!("created board {} ({})", board.name, board.id);
    tour.board_id = board.id.clone();

    // Python: note = api.create_sticky_note_item(board.id, StickyNoteCreateRequest(
    //             data=StickyNoteData(content="Hello"), position=PositionChange(x=0, y=0)))
    let note = StickyNoteCreateRequest::default()
        .data(StickyNoteData::default().content("Hello from Rust"))
        .at(0, 0);
    let note = api.create_sticky_note_item(&board.id, &note).await?;
    println!("created sticky note {}", note.id);
    tour.sticky_note_id = note.id.clone();

    // Python: api.update_sticky_note_item(board.id, note.id, StickyNoteUpdateRequest(
    //             data=StickyNoteData(content="Updated")))
    let update = StickyNoteUpdateRequest::default()
        .data(StickyNoteData::default().content("Updated from Rust"));
    let updated = api
        .update_sticky_note_item(&board.id, &note.id, &update)
        .await?;
    tour.updated_content = updated
        .data
        .as_ref()
        .and_then(|d| d.content.clone())
        .unwrap_or_default();
    println!("updated it: {:?}", tour.updated_content);

    // Python: api.delete_sticky_note_item(board.id, note.id)
    api.delete_sticky_note_item(&board.id, &note.id).await?;
    println!("deleted it");

    // Python: for member in api.get_all_board_members(board.id): print(member.name, member.role)
    let members: Vec<_> = api.get_all_board_members(&board.id).try_collect().await?;
    for m in members {
        let role = m
            .role
            .as_ref()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default();
        println!("member: {} ({role})", m.name);
        tour.members.push((m.id, m.name, role));
    }
    Ok(tour)
}

/// The README's Rust examples, compiled (and, where not `no_run`, run) as doctests with this
/// crate's dependencies: a newcomer's `miro-api`, `miro-api-extended`, `miro-emulator` and
/// `tokio`, nothing else.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;

/// The examples of `docs/coming-from-python.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/coming-from-python.md")]
pub struct ComingFromPythonExamples;

/// The examples of the emulator's README (`tests/emulator/README.md`), compiled and run.
#[cfg(doctest)]
#[doc = include_str!("../../../tests/emulator/README.md")]
pub struct EmulatorReadmeExamples;
