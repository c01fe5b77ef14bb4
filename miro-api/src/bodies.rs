//! Constructors for request bodies that the generated setters do not cover in one step.

use crate::types::{ConnectorCreationData, ItemConnectionCreationData};

#[cfg_attr(docsrs, doc(cfg(feature = "connectors")))]
impl ConnectorCreationData {
    /// A connector from the item `start_id` to the item `end_id`, with Miro's default shape and
    /// style (set them with `.shape(..)` and `.style(..)`). Available with the `connectors`
    /// feature of `miro-api`.
    pub fn between(start_id: impl Into<String>, end_id: impl Into<String>) -> Self {
        ConnectorCreationData::new(
            ItemConnectionCreationData::default().id(start_id),
            ItemConnectionCreationData::default().id(end_id),
        )
    }
}
