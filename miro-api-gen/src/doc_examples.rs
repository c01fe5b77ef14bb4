//! Examples for the rustdoc of the methods people call most: how to build their bodies in one
//! expression. They are doctests of `miro-api`, so they compile against the generated surface.

/// The example for an operation, as doctest lines, when it has one.
pub fn for_operation(operation_id: &str) -> Option<&'static str> {
    Some(match operation_id {
        "create-sticky-note-item" => {
            "use miro_api::types::{StickyNoteCreateRequest, StickyNoteData};\n\
             let note = StickyNoteCreateRequest::default()\n    \
             .data(StickyNoteData::default().content(\"Hello\"))\n    \
             .at(100, 200);\n\
             let note = api.create_sticky_note_item(board, &note).await?;"
        }
        "create-card-item" => {
            "use miro_api::types::{CardCreateRequest, CardData};\n\
             let card = CardCreateRequest::default().data(CardData::default().title(\"Write the docs\"));\n\
             let card = api.create_card_item(board, &card).await?;"
        }
        "create-shape-item" => {
            "use miro_api::types::{ShapeCreateRequest, ShapeDataForCreate, ShapeDataShape};\n\
             let shape = ShapeCreateRequest::default()\n    \
             .data(ShapeDataForCreate::default().shape(ShapeDataShape::Circle).content(\"Start\"))\n    \
             .at(0, 300);\n\
             let shape = api.create_shape_item(board, &shape).await?;"
        }
        "create-tag" => {
            "use miro_api::types::{TagCreateRequest, TagFillColor};\n\
             let tag = TagCreateRequest::new(\"urgent\").fill_color(TagFillColor::Red);\n\
             let tag = api.create_tag(board, &tag).await?;"
        }
        "create-connector" => {
            "use miro_api::types::ConnectorCreationData;\n\
             # let (start_id, end_id) = (\"3458764517517819001\", \"3458764517517819002\");\n\
             let line = ConnectorCreationData::between(start_id, end_id);\n\
             let line = api.create_connector(board, &line).await?;"
        }
        "create-items" => {
            "use miro_api::types::{CardData, ItemCreate, StickyNoteData};\n\
             // Each item's type follows from its data.\n\
             let items = [\n    \
             ItemCreate::from(StickyNoteData::default().content(\"Idea\")).at(0, 0),\n    \
             ItemCreate::from(CardData::default().title(\"Task\")).at(300, 0),\n\
             ];\n\
             let created = api.create_items(board, &items).await?;"
        }
        _ => return None,
    })
}

/// The example as a rustdoc section: a `no_run` doctest with `api` and `board` in scope.
pub fn section(operation_id: &str) -> Option<String> {
    let body = for_operation(operation_id)?;
    Some(format!(
        "\n# Example\n\n```no_run\n# async fn run(api: miro_api::MiroApi, board: &str) -> Result<(), miro_api::Error> {{\n{body}\n# Ok(()) }}\n```\n"
    ))
}
