//! Read types convert to write types (the generator's `conversions` rule): a sticky note's
//! style read from the board and written back, a tag read and sent as an update, a shape style
//! read and sent as the update type; and the flowchart shape name is the `ShapeDataShape` enum.
//! Each runs against the emulator through `MiroApi`.

use miro_api::types::{
    self, FillColor, ShapeDataShape, StickyNoteCreateRequest, StickyNoteData, StickyNoteStyle,
    StickyNoteUpdateRequest, TagCreateRequest, TagFillColor, TagUpdateRequest,
    UpdateStickyNoteStyle,
};
use miro_api::MiroApi;
use miro_emulator::RunningEmulator;

async fn setup() -> (RunningEmulator, MiroApi, String) {
    miro_tests::emulator_with_board("Conversions", false).await
}

#[tokio::test]
async fn a_sticky_note_style_read_is_written_back_to_another_note() {
    let (_emu, api, board) = setup().await;
    let styled = StickyNoteCreateRequest::default()
        .data(StickyNoteData::default().content("styled"))
        .style(StickyNoteStyle::default().fill_color(FillColor::Orange));
    let first = api.create_sticky_note_item(&board, &styled).await.unwrap();
    let plain = StickyNoteCreateRequest::default().data(StickyNoteData::default().content("plain"));
    let second = api.create_sticky_note_item(&board, &plain).await.unwrap();

    let style = first.style.as_ref().expect("the note's style");
    let update = StickyNoteUpdateRequest::default().style(UpdateStickyNoteStyle::from(style));
    api.update_sticky_note_item(&board, &second.id, &update)
        .await
        .unwrap();
    let got = api.get_sticky_note_item(&board, &second.id).await.unwrap();
    let got = got.style.as_ref().unwrap();
    assert_eq!(got.fill_color, Some(FillColor::Orange));
    assert_eq!(got.text_align, style.text_align);
}

#[tokio::test]
async fn a_tag_read_is_sent_back_as_an_update_and_a_copy() {
    let (_emu, api, board) = setup().await;
    let tag = api
        .create_tag(
            &board,
            &TagCreateRequest::new("urgent").fill_color(TagFillColor::Red),
        )
        .await
        .unwrap();
    // A copy on another board, from the tag as read.
    let other = api
        .create_board(&types::BoardChanges::default().name("Other"))
        .await
        .unwrap();
    let copy = api
        .create_tag(&other.id, &TagCreateRequest::from(&*tag))
        .await
        .unwrap();
    assert_eq!(
        (copy.title.as_str(), &copy.fill_color),
        ("urgent", &tag.fill_color)
    );
    // The read tag, changed and written back.
    let mut change = TagUpdateRequest::from(&*tag);
    change.title = Some("later".into());
    let updated = api.update_tag(&board, &tag.id, &change).await.unwrap();
    assert_eq!(updated.title, "later");
    assert_eq!(updated.fill_color, tag.fill_color);
}

#[test]
fn flowchart_shapes_are_named_by_the_shape_enum() {
    let data = types::ShapeDataForCreate::default().shape(ShapeDataShape::FlowChartProcess);
    assert_eq!(
        serde_json::to_value(&data).unwrap()["shape"],
        "flow_chart_process"
    );
    let shape: ShapeDataShape = "flow_chart_terminator".parse().unwrap();
    assert_eq!(shape, ShapeDataShape::FlowChartTerminator);
}
