//! Cards with tags from another system: create or update Miro cards from a CSV or JSON file,
//! matched by a stable key, so that a second run changes only what changed.
//!
//! # Where the key lives
//!
//! Miro keeps no custom fields on a card, so the key is kept in the card's description: its
//! last line is a marker `cards-from-file:KEY:HASH`, where `HASH` is a digest of everything the
//! file says about the card (title, description, due date, assignee, tags). A run reads the
//! board's cards (one paged read), finds each row's card by its key and compares the digest:
//!
//! - no card with the key: the card is created (in bulk, 20 per call) and tagged;
//! - the digest differs: the card's data is updated and its tags made equal to the row's
//!   (only the missing ones attached, the extra ones detached);
//! - the digest is equal: nothing is written, whatever Miro did to the description's markup.
//!
//! A card whose tags could not all be attached gets the digest `stale`, so that the next run
//! finishes the job (attaching only what is missing).
//!
//! # Never a card twice
//!
//! Only a 4xx answer to a bulk create means that nothing was created (Miro checks the whole
//! batch first); the cards are then created one by one to find the rows Miro refuses. Any other
//! failure (a 5xx, a lost connection, an answer that cannot be read) leaves the outcome
//! unknown: the board is read again and the cards found by their key are taken as created;
//! only the others are sent again (at most [`UNKNOWN_OUTCOME_ROUNDS`] times).
//!
//! # Reported, not guessed
//!
//! A key on two or more cards of the board is reported and those cards are left alone. Cards
//! of the board whose key is no longer in the file are reported (not deleted). Missing tags are
//! created within Miro's limits (title at most 120 characters, at most 8 tags per card, at most
//! 100 tags per board), in the colour [`Options::tag_colors`] gives (an existing tag of another
//! colour is recoloured). A row failing validation is reported with its line number and the
//! others go on. An assignee is a Miro user id or an email address; emails are looked up among
//! the organisation's members (Enterprise API), so they need `org_id`.
//!
//! Miro's API attaches one tag to one item per call (cards cannot be created with tags, and
//! there is no bulk tag call), so a new card with three tags costs three attach calls.

#![warn(missing_docs)]

pub mod input;

use input::{Row, RowError};
use miro_api::types::{
    CardCreateRequest, CardData, CardUpdateRequest, EnterpriseGetOrganizationMembersResponse,
    ItemCreate, TagCreateRequest, TagFillColor, TagUpdateRequest, WidgetDataOutput,
};
use miro_api::MiroApi;
use miro_api_extended::prelude::{PagedRequestExt, TryStreamExt};
use miro_api_extended::PaginationExt;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The start of the marker line that holds a card's key and digest.
pub const MARKER: &str = "cards-from-file:";
/// The digest of a card whose tags are not all attached: never equal to a row's.
pub const STALE: &str = "stale";
/// Miro's limit on the tags of one board.
pub const TAGS_PER_BOARD_MAX: usize = 100;
/// Miro's limit on the items of one bulk create call.
pub const BULK_MAX: usize = 20;
/// How many times a batch whose outcome stayed unknown is resolved and sent again.
pub const UNKNOWN_OUTCOME_ROUNDS: usize = 3;

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Cards created: line, key, item id.
    pub created: Vec<(usize, String, String)>,
    /// Cards updated: line, key, item id.
    pub updated: Vec<(usize, String, String)>,
    /// Rows whose card was already up to date.
    pub unchanged: usize,
    /// Tags created on the board.
    pub tags_created: Vec<String>,
    /// Existing tags given the colour [`Options::tag_colors`] asks for.
    pub tags_recoloured: Vec<String>,
    /// Cards of the board whose key is in no row of the file: key and card ids. They are
    /// left on the board.
    pub removed: Vec<(String, Vec<String>)>,
    /// Rows that failed validation or whose write failed, by line.
    pub failed: Vec<RowError>,
}

/// Settings of a run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The organisation whose members' emails assign cards (Enterprise); without it, an
    /// assignee must be a Miro user id.
    pub org_id: Option<String>,
    /// The colour of tags, by title (others get Miro's default when created).
    pub tag_colors: BTreeMap<String, TagFillColor>,
}

/// An error that stops the whole run (reading the board failed); row errors are in
/// [`Report::failed`] instead.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A Miro call needed by every row failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: miro_api::Error,
    },
    /// Reading a paged list failed.
    #[error("{what}: {source}")]
    Paging {
        /// What was being read.
        what: &'static str,
        /// The cause.
        source: miro_api_extended::PaginationError,
    },
}

/// A card to create: the row, its assignee's user id and its digest.
type NewCard = (Row, Option<String>, String);

/// A card found on the board through its marker.
#[derive(Debug, Clone)]
struct Existing {
    id: String,
    hash: String,
}

/// The board's cards with a marker, by key (a key may be on several cards), and how many
/// cards the board has.
struct BoardCards {
    by_key: HashMap<String, Vec<Existing>>,
    count: usize,
}

async fn read_cards(api: &MiroApi, board_id: &str) -> Result<BoardCards, SyncError> {
    let mut board = BoardCards {
        by_key: HashMap::new(),
        count: 0,
    };
    let mut cards = api
        .get_items(board_id)
        .type_(miro_api::types::ItemType::Card)
        .stream();
    while let Some(item) = cards.try_next().await.map_err(|source| SyncError::Paging {
        what: "reading the board's cards",
        source,
    })? {
        board.count += 1;
        if let Some(WidgetDataOutput::CardData(data)) = &item.data {
            if let Some((key, hash)) = data.description.as_deref().and_then(parse_marker) {
                board
                    .by_key
                    .entry(key)
                    .or_default()
                    .push(Existing { id: item.id, hash });
            }
        }
    }
    Ok(board)
}

/// Whether a failed create certainly created nothing: Miro answered with a 4xx.
fn refused(e: &miro_api::Error) -> bool {
    matches!(e, miro_api::Error::Api(_)) && e.status().is_some_and(|s| s.is_client_error())
}

/// The key and digest of a description's marker, if it has one.
pub fn parse_marker(description: &str) -> Option<(String, String)> {
    let at = description.rfind(MARKER)?;
    let rest = &description[at + MARKER.len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '<')
        .unwrap_or(rest.len());
    let (key, hash) = rest[..end].rsplit_once(':')?;
    (!key.is_empty() && !hash.is_empty()).then(|| (key.to_owned(), hash.to_owned()))
}

/// The digest of what the row says about its card (16 hex digits).
pub fn row_hash(row: &Row, assignee_id: Option<&str>) -> String {
    let mut tags: Vec<&str> = row.tags.iter().map(String::as_str).collect();
    tags.sort_unstable();
    let canonical = serde_json::json!([
        row.key,
        row.title,
        row.description,
        row.due_date.map(|d| d.to_rfc3339()),
        assignee_id,
        tags,
    ]);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn description_with_marker(row: &Row, hash: &str) -> String {
    if row.description.is_empty() {
        format!("{MARKER}{}:{hash}", row.key)
    } else {
        format!("{}\n\n{MARKER}{}:{hash}", row.description, row.key)
    }
}

fn card_data(row: &Row, assignee_id: Option<&str>, hash: &str) -> CardData {
    let mut data = CardData::default()
        .title(row.title.clone())
        .description(description_with_marker(row, hash));
    if let Some(due) = row.due_date {
        data = data.due_date(due);
    }
    if let Some(id) = assignee_id {
        data = data.assignee_id(id.to_owned());
    }
    data
}

/// Creates or updates the cards of `rows` on `board_id`. `errors` are rows that already failed
/// validation; they are reported with the others.
pub async fn sync(
    api: &MiroApi,
    board_id: &str,
    rows: Vec<Row>,
    errors: Vec<RowError>,
    options: &Options,
) -> Result<Report, SyncError> {
    let mut report = Report {
        failed: errors,
        ..Report::default()
    };

    // 1. The board as it is: cards with a marker, and tags.
    let board = read_cards(api, board_id).await?;
    let in_file: BTreeSet<&str> = rows
        .iter()
        .map(|r| r.key.as_str())
        .chain(report.failed.iter().filter_map(|e| e.key.as_deref()))
        .collect();
    let mut gone: Vec<(String, Vec<String>)> = board
        .by_key
        .iter()
        .filter(|(key, _)| !in_file.contains(key.as_str()))
        .map(|(key, cards)| (key.clone(), cards.iter().map(|c| c.id.clone()).collect()))
        .collect();
    gone.sort();
    report.removed = gone;
    let board_tags: Vec<miro_api::types::Tag> = api
        .get_all_tags_from_board(board_id)
        .try_collect()
        .await
        .map_err(|source| SyncError::Paging {
            what: "reading the board's tags",
            source,
        })?;
    let mut tag_ids: HashMap<String, String> = board_tags
        .iter()
        .map(|t| (t.title.clone(), t.id.clone()))
        .collect();

    // 2. Assignee emails to user ids.
    let user_ids = assignee_ids(api, &rows, options).await?;

    // 3. Sort the rows: unchanged, to update, to create.
    let mut to_create: Vec<NewCard> = Vec::new();
    let mut to_update: Vec<(Row, Option<String>, String, String)> = Vec::new();
    for row in rows {
        let fail = |message: String| RowError {
            line: row.line,
            key: Some(row.key.clone()),
            message,
        };
        let assignee_id = match row.assignee.as_deref() {
            None => None,
            Some(a) if !a.contains('@') => Some(a.to_owned()),
            Some(a) => match user_ids.get(a) {
                Some(id) => Some(id.clone()),
                None => {
                    let why = if options.org_id.is_some() {
                        format!("assignee {a} is not a member of the organisation")
                    } else {
                        format!("assignee {a}: an email needs --org-id (Enterprise) to find the user; or give the Miro user id")
                    };
                    report.failed.push(fail(why));
                    continue;
                }
            },
        };
        let hash = row_hash(&row, assignee_id.as_deref());
        match board.by_key.get(&row.key).map(Vec::as_slice) {
            None | Some([]) => to_create.push((row, assignee_id, hash)),
            Some([card]) if card.hash == hash => report.unchanged += 1,
            Some([card]) => {
                let id = card.id.clone();
                to_update.push((row, assignee_id, hash, id));
            }
            Some(cards) => {
                let ids: Vec<&str> = cards.iter().map(|c| c.id.as_str()).collect();
                report.failed.push(fail(format!(
                    "the key is on {} cards of the board ({}); delete all but one, then rerun",
                    cards.len(),
                    ids.join(", ")
                )));
            }
        }
    }

    // 4. Missing tags, within the board's limit; colours as asked.
    let mut missing: Vec<String> = Vec::new();
    for row in to_create
        .iter()
        .map(|(r, ..)| r)
        .chain(to_update.iter().map(|(r, ..)| r))
    {
        for tag in &row.tags {
            if !tag_ids.contains_key(tag) && !missing.contains(tag) {
                missing.push(tag.clone());
            }
        }
    }
    let mut tag_failures: HashMap<String, String> = HashMap::new();
    for title in missing {
        if tag_ids.len() >= TAGS_PER_BOARD_MAX {
            tag_failures.insert(
                title,
                format!("the board already has Miro's maximum of {TAGS_PER_BOARD_MAX} tags"),
            );
            continue;
        }
        let mut body = TagCreateRequest::new(title.clone());
        body.fill_color = options.tag_colors.get(&title).cloned();
        match api.create_tag(board_id, &body).await {
            Ok(tag) => {
                tag_ids.insert(title.clone(), tag.id.clone());
                report.tags_created.push(title);
            }
            Err(e) => {
                tag_failures.insert(title, format!("creating the tag failed: {e}"));
            }
        }
    }
    for tag in &board_tags {
        let Some(color) = options.tag_colors.get(&tag.title) else {
            continue;
        };
        if *color == tag.fill_color {
            continue;
        }
        let body = TagUpdateRequest::default().fill_color(color.clone());
        match api.update_tag(board_id, &tag.id, &body).await {
            Ok(_) => report.tags_recoloured.push(tag.title.clone()),
            Err(e) => report.failed.push(RowError {
                line: 0,
                key: None,
                message: format!("recolouring tag {:?} failed: {e}", tag.title),
            }),
        }
    }
    let tag_problem = |row: &Row| {
        row.tags
            .iter()
            .find_map(|t| tag_failures.get(t).map(|why| format!("tag {t:?}: {why}")))
    };

    // 5. New cards, in bulk.
    let mut ready = Vec::new();
    for (row, assignee, hash) in to_create {
        match tag_problem(&row) {
            Some(message) => report.failed.push(RowError {
                line: row.line,
                key: Some(row.key.clone()),
                message,
            }),
            None => ready.push((row, assignee, hash)),
        }
    }
    let mut slot = board.count;
    let mut created: Vec<(Row, String)> = Vec::new();
    for batch in ready.chunks(BULK_MAX) {
        create_batch(api, board_id, batch, slot, &mut created, &mut report).await?;
        slot += batch.len();
    }
    for (row, id) in created {
        match set_tags(api, board_id, &id, &row.tags, &tag_ids, false).await {
            Ok(()) => report.created.push((row.line, row.key, id)),
            Err(message) => {
                let message = mark_stale(api, board_id, &id, &row, message).await;
                report.failed.push(RowError {
                    line: row.line,
                    key: Some(row.key),
                    message: format!("card {id} created, but {message}"),
                })
            }
        }
    }

    // 6. Changed cards: their data, then their tags.
    for (row, assignee, hash, id) in to_update {
        let fail = |message: String| RowError {
            line: row.line,
            key: Some(row.key.clone()),
            message,
        };
        if let Some(message) = tag_problem(&row) {
            report.failed.push(fail(message));
            continue;
        }
        let body = CardUpdateRequest::default().data(card_data(&row, assignee.as_deref(), &hash));
        if let Err(e) = api.update_card_item(board_id, &id, &body).await {
            report
                .failed
                .push(fail(format!("updating card {id} failed: {e}")));
            continue;
        }
        match set_tags(api, board_id, &id, &row.tags, &tag_ids, true).await {
            Ok(()) => report.updated.push((row.line, row.key.clone(), id)),
            Err(message) => {
                let message = mark_stale(api, board_id, &id, &row, message).await;
                report
                    .failed
                    .push(fail(format!("card {id} updated, but {message}")))
            }
        }
    }
    report.failed.sort_by_key(|e| e.line);
    Ok(report)
}

/// The user ids of the rows' assignee emails, looked up in the organisation.
async fn assignee_ids(
    api: &MiroApi,
    rows: &[Row],
    options: &Options,
) -> Result<HashMap<String, String>, SyncError> {
    let emails: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.assignee.as_deref())
        .filter(|a| a.contains('@'))
        .collect();
    let mut user_ids: HashMap<String, String> = HashMap::new();
    let Some(org) = options.org_id.as_deref() else {
        return Ok(user_ids);
    };
    let emails: Vec<&str> = emails.into_iter().collect();
    for chunk in emails.chunks(10) {
        let joined = chunk.join(",");
        let found = api
            .enterprise_get_organization_members(org)
            .emails(&joined)
            .await
            .map_err(|source| SyncError::Api {
                what: "looking up the assignees' emails",
                source,
            })?
            .into_inner();
        let members = match found {
            EnterpriseGetOrganizationMembersResponse::ByEmailsResponse(list) => list.0,
            EnterpriseGetOrganizationMembersResponse::Response(page) => page.data,
            // An answer shape this version of the client does not know (the enum is
            // non_exhaustive): no one found, so these assignees stay unassigned.
            _ => Vec::new(),
        };
        for m in members {
            user_ids.insert(m.email.to_ascii_lowercase(), m.id);
        }
    }
    Ok(user_ids)
}

/// Creates the cards of one batch (at most [`BULK_MAX`]) from grid cell `slot` on; each card
/// made goes to `created` (row, id), each row that could not be made to the report.
async fn create_batch(
    api: &MiroApi,
    board_id: &str,
    batch: &[NewCard],
    slot: usize,
    created: &mut Vec<(Row, String)>,
    report: &mut Report,
) -> Result<(), SyncError> {
    let fail = |row: &Row, message: String| RowError {
        line: row.line,
        key: Some(row.key.clone()),
        message,
    };
    // The rows still to create, with their grid cell.
    let mut todo: Vec<(usize, &NewCard)> = batch
        .iter()
        .enumerate()
        .map(|(i, r)| (slot + i, r))
        .collect();
    for round in 1.. {
        let items: Vec<ItemCreate> = todo
            .iter()
            .map(|(cell, (row, assignee, hash))| {
                let (x, y) = grid(*cell);
                ItemCreate::from(card_data(row, assignee.as_deref(), hash)).at(x, y)
            })
            .collect();
        let error = match api.create_items(board_id, &items).await {
            Ok(answer) => {
                // Miro answers with the items in the order sent.
                for (i, (_, (row, ..))) in todo.iter().enumerate() {
                    match answer.data.get(i) {
                        Some(item) => created.push((row.clone(), item.id.to_string())),
                        None => report.failed.push(fail(
                            row,
                            "Miro's bulk answer did not include this card; rerun to check".into(),
                        )),
                    }
                }
                return Ok(());
            }
            Err(e) => e,
        };
        if refused(&error) {
            // Miro refused the batch before creating anything: card by card, to find the rows
            // it refuses and create the others.
            return create_one_by_one(api, board_id, &todo, created, report).await;
        }
        // The outcome is unknown: the board says which cards were made.
        let board = read_cards(api, board_id).await?;
        todo.retain(|(_, (row, ..))| {
            match board.by_key.get(&row.key).and_then(|cards| cards.first()) {
                Some(card) => {
                    created.push((row.clone(), card.id.clone()));
                    false
                }
                None => true,
            }
        });
        if todo.is_empty() {
            return Ok(());
        }
        if round >= UNKNOWN_OUTCOME_ROUNDS {
            for (_, (row, ..)) in todo {
                report.failed.push(fail(
                    row,
                    format!("creating the card failed ({error}); not on the board; rerun"),
                ));
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Creates the cards one by one (after Miro refused their batch); a card whose creation has
/// an unknown outcome is looked up on the board, not sent again.
async fn create_one_by_one(
    api: &MiroApi,
    board_id: &str,
    todo: &[(usize, &NewCard)],
    created: &mut Vec<(Row, String)>,
    report: &mut Report,
) -> Result<(), SyncError> {
    let mut unknown = Vec::new();
    for (cell, (row, assignee, hash)) in todo {
        let (x, y) = grid(*cell);
        let body = CardCreateRequest::default()
            .data(card_data(row, assignee.as_deref(), hash))
            .at(x, y);
        match api.create_card_item(board_id, &body).await {
            Ok(card) => created.push((row.clone(), card.id.clone())),
            Err(e) if refused(&e) => report.failed.push(RowError {
                line: row.line,
                key: Some(row.key.clone()),
                message: format!("Miro refused the card: {e}"),
            }),
            Err(e) => unknown.push((row, e)),
        }
    }
    if unknown.is_empty() {
        return Ok(());
    }
    let board = read_cards(api, board_id).await?;
    for (row, e) in unknown {
        match board.by_key.get(&row.key).and_then(|cards| cards.first()) {
            Some(card) => created.push((row.clone(), card.id.clone())),
            None => report.failed.push(RowError {
                line: row.line,
                key: Some(row.key.clone()),
                message: format!("creating the card failed ({e}); not on the board; rerun"),
            }),
        }
    }
    Ok(())
}

/// Gives a card whose tags could not all be set the digest [`STALE`], so that the next run
/// updates it; returns `message`, with a note when that failed too.
async fn mark_stale(api: &MiroApi, board_id: &str, id: &str, row: &Row, message: String) -> String {
    let data = CardData::default().description(description_with_marker(row, STALE));
    match api
        .update_card_item(board_id, id, &CardUpdateRequest::default().data(data))
        .await
    {
        Ok(_) => format!("{message}; the next run retries"),
        Err(e) => {
            format!("{message}; marking it for the next run failed too ({e}): fix its tags by hand")
        }
    }
}

/// Makes the card's tags equal to `wanted` (for a new card, only attaches): only the missing
/// tags are attached and the extra ones detached. Goes on after a failure; the errors are
/// joined.
async fn set_tags(
    api: &MiroApi,
    board_id: &str,
    item_id: &str,
    wanted: &[String],
    tag_ids: &HashMap<String, String>,
    existing_card: bool,
) -> Result<(), String> {
    let wanted_ids: BTreeSet<&str> = wanted
        .iter()
        .filter_map(|t| tag_ids.get(t).map(String::as_str))
        .collect();
    let mut current: BTreeSet<String> = BTreeSet::new();
    if existing_card {
        let tags = api
            .get_tags_from_item(board_id, item_id)
            .await
            .map_err(|e| format!("reading its tags failed: {e}"))?;
        current = tags.tags.iter().map(|t| t.id.clone()).collect();
    }
    let mut errors = Vec::new();
    for id in current
        .iter()
        .filter(|id| !wanted_ids.contains(id.as_str()))
    {
        if let Err(e) = api.remove_tag_from_item(board_id, item_id, id).await {
            errors.push(format!("removing a tag failed: {e}"));
        }
    }
    for id in wanted_ids.iter().filter(|id| !current.contains(**id)) {
        if let Err(e) = api.attach_tag_to_item(board_id, item_id, id).await {
            errors.push(format!("attaching a tag failed: {e}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// The position of the `n`th card: rows of five.
fn grid(n: usize) -> (f64, f64) {
    ((n % 5) as f64 * 360.0, (n / 5) as f64 * 240.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_survives_markup() {
        assert_eq!(
            parse_marker("<p>Text</p><p>cards-from-file:A:1:abcd</p>"),
            Some(("A:1".into(), "abcd".into()))
        );
        assert_eq!(parse_marker("no marker"), None);
        assert_eq!(parse_marker("cards-from-file:nohash"), None);
    }
}
