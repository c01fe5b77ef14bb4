//! Reading `multipart/form-data` bodies that are already in memory.

use std::convert::Infallible;

use bytes::Bytes;

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub name: Option<String>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// Whether a content type is `multipart/form-data`.
pub(crate) fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    })
}

/// Splits a multipart body into its parts; `Err` with a reason when it is malformed.
pub(crate) async fn parse(content_type: &str, body: Bytes) -> Result<Vec<Part>, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let stream = futures::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    loop {
        match mp.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().map(str::to_string);
                let file_name = field.file_name().map(str::to_string);
                let content_type = field.content_type().map(|m| m.to_string());
                let data = field.bytes().await.map_err(|e| e.to_string())?;
                parts.push(Part {
                    name,
                    file_name,
                    content_type,
                    data,
                });
            }
            Ok(None) => return Ok(parts),
            Err(e) => return Err(e.to_string()),
        }
    }
}
