//! The live smoke run: a safe subset of operations that creates items on one board, reads,
//! updates and links them, and deletes everything it created, through the typed methods, raw
//! requests and the comments wrapper. `examples/live_smoke.rs` runs it against api.miro.com
//! (with `MIRO_TEST_TOKEN` and `MIRO_TEST_BOARD_ID`) or the in-process emulator; the test
//! `tests/live_smoke.rs` runs it against the emulator.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use miro_api::comments::CommentCreate;
use miro_api::types::{
    CardCreateRequest, CardData, ConnectorCreationData, FrameChanges, FrameCreateRequest,
    GeometryNoRotation, StickyNoteCreateRequest, StickyNoteData, StickyNoteUpdateRequest,
    TagCreateRequest, TagFillColor,
};
use miro_api::{Error, Method, MiroApi, Response};
use serde_json::Value;

/// How one step ended.
#[derive(Debug)]
pub struct Step {
    /// What the step does, e.g. `create sticky note`.
    pub name: &'static str,
    /// Whether the run fails when this step fails (the experimental endpoints may be closed
    /// to an account's plan: their failure is reported, not fatal).
    pub required: bool,
    /// The HTTP status and attempts of a success, or the error.
    pub outcome: Result<(u16, u32), Error>,
    /// How long it took.
    pub took: Duration,
}

/// Every step of a run, in order.
#[derive(Debug, Default)]
pub struct Report {
    /// The steps, cleanup included.
    pub steps: Vec<Step>,
}

impl Report {
    /// The required steps that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| s.required && s.outcome.is_err())
    }

    /// Whether every required step succeeded.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    async fn step<T>(
        &mut self,
        name: &'static str,
        required: bool,
        call: impl Future<Output = Result<Response<T>, Error>>,
    ) -> Option<T> {
        let started = Instant::now();
        let result = call.await;
        let (outcome, body) = match result {
            Ok(r) => (
                Ok((r.status().as_u16(), r.attempts())),
                Some(r.into_inner()),
            ),
            Err(e) => (Err(e), None),
        };
        self.steps.push(Step {
            name,
            required,
            outcome,
            took: started.elapsed(),
        });
        body
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            let kind = if s.required { "" } else { " (optional)" };
            match &s.outcome {
                Ok((status, attempts)) => writeln!(
                    f,
                    "ok    {:<34} {status} in {} ms, {attempts} attempt(s){kind}",
                    s.name,
                    s.took.as_millis()
                )?,
                Err(e) => writeln!(f, "FAIL  {:<34} {e}{kind}", s.name)?,
            }
        }
        let failed = self.failures().count();
        write!(f, "{} steps, {} required failed", self.steps.len(), failed)
    }
}

/// Runs the smoke steps on `board_id` and deletes what they created (also after a failure).
pub async fn run(api: &MiroApi, board_id: &str) -> Report {
    let mut report = Report::default();
    let b = board_id;
    report
        .step("get board", true, api.get_specific_board(b).send())
        .await;

    let note = StickyNoteCreateRequest::default()
        .data(StickyNoteData::default().content("miro-rs smoke"))
        .at(0, 0);
    let note = report
        .step(
            "create sticky note",
            true,
            api.create_sticky_note_item(b, &note).send(),
        )
        .await
        .map(|n| n.id);
    let card = CardCreateRequest::default()
        .data(CardData::default().title("miro-rs smoke card"))
        .at(400, 0);
    let card = report
        .step("create card", true, api.create_card_item(b, &card).send())
        .await
        .map(|c| c.id);

    if let Some(note) = &note {
        report
            .step(
                "get sticky note",
                true,
                api.get_sticky_note_item(b, note).send(),
            )
            .await;
        let update = StickyNoteUpdateRequest::default()
            .data(StickyNoteData::default().content("miro-rs smoke, updated"));
        report
            .step(
                "update sticky note",
                true,
                api.update_sticky_note_item(b, note, &update).send(),
            )
            .await;
    }

    let mut tag = None;
    if let Some(card) = &card {
        let body = TagCreateRequest::new("miro-rs smoke").fill_color(TagFillColor::Red);
        tag = report
            .step("create tag", true, api.create_tag(b, &body).send())
            .await
            .map(|t| t.id);
        if let Some(tag) = &tag {
            report
                .step(
                    "attach tag",
                    true,
                    api.attach_tag_to_item(b, card, tag).send(),
                )
                .await;
            report
                .step(
                    "get tags of card",
                    true,
                    api.get_tags_from_item(b, card).send(),
                )
                .await;
            report
                .step(
                    "remove tag",
                    true,
                    api.remove_tag_from_item(b, card, tag).send(),
                )
                .await;
        }
    }

    let mut connector = None;
    if let (Some(note), Some(card)) = (&note, &card) {
        let body = ConnectorCreationData::between(note.clone(), card.clone());
        connector = report
            .step(
                "create connector",
                true,
                api.create_connector(b, &body).send(),
            )
            .await
            .map(|c| c.id);
        if let Some(c) = &connector {
            report
                .step("get connector", true, api.get_connector(b, c).send())
                .await;
        }
    }

    let frame = FrameCreateRequest::new(FrameChanges::default().title("miro-rs smoke frame"))
        .geometry(GeometryNoRotation::default().width(800.0).height(600.0));
    let frame = report
        .step(
            "create frame",
            true,
            api.create_frame_item(b, &frame).send(),
        )
        .await
        .map(|f| f.id);
    if let Some(frame) = &frame {
        report
            .step(
                "list items within frame",
                true,
                api.get_items_within_frame(b, frame).limit(10).send(),
            )
            .await;
    }
    report
        .step("list items", true, api.get_items(b).limit(10).send())
        .await;

    // What the spec lacks, through raw requests and the comments wrapper.
    report
        .step(
            "raw GET diagrams",
            false,
            api.request(Method::GET, "/v2/boards/{}/diagrams", [b])
                .send::<Value>(),
        )
        .await;
    report
        .step(
            "raw GET data_table_formats",
            false,
            api.request(Method::GET, "/v2/boards/{}/data_table_formats", [b])
                .send::<Value>(),
        )
        .await;
    if let Some(card) = &card {
        let body = CommentCreate::new("miro-rs smoke comment").item_id(card.clone());
        let thread = report
            .step("create comment", false, api.create_comment(b, &body))
            .await
            .map(|t| t.id);
        if let Some(thread) = &thread {
            report
                .step(
                    "reply to comment",
                    false,
                    api.add_comment_message(b, thread, "a reply"),
                )
                .await;
            report
                .step(
                    "resolve comment",
                    false,
                    api.resolve_comment(b, thread, true),
                )
                .await;
            report
                .step(
                    "list comments",
                    false,
                    api.list_comments(b).limit(10).send(),
                )
                .await;
        }
    }

    // Cleanup: everything created, whatever failed above. (Comments cannot be deleted: Miro
    // answers 405; they go with the card they are attached to.)
    if let Some(c) = &connector {
        report
            .step("delete connector", true, api.delete_connector(b, c).send())
            .await;
    }
    if let Some(t) = &tag {
        report
            .step("delete tag", true, api.delete_tag(b, t).send())
            .await;
    }
    if let Some(f) = &frame {
        report
            .step("delete frame", true, api.delete_frame_item(b, f).send())
            .await;
    }
    if let Some(n) = &note {
        report
            .step(
                "delete sticky note",
                true,
                api.delete_sticky_note_item(b, n).send(),
            )
            .await;
    }
    if let Some(c) = &card {
        report
            .step("delete card", true, api.delete_card_item(b, c).send())
            .await;
    }
    report
}
