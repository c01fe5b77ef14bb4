//! Files to upload in multipart requests.

use std::path::Path;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

/// A file for an upload: its bytes, the file name Miro sees, and its content type.
#[derive(Clone)]
pub struct FilePart {
    pub(crate) bytes: Bytes,
    pub(crate) file_name: String,
    pub(crate) content_type: String,
}

impl std::fmt::Debug for FilePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilePart")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl FilePart {
    /// A file from bytes with an explicit name and content type.
    pub fn new(
        bytes: impl Into<Bytes>,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
    ) -> Self {
        FilePart {
            bytes: bytes.into(),
            file_name: file_name.into(),
            content_type: content_type.into(),
        }
    }

    /// A file from bytes; the content type is guessed from the name's extension.
    pub fn from_bytes(bytes: impl Into<Bytes>, file_name: impl Into<String>) -> Self {
        let file_name = file_name.into();
        let content_type = content_type_for(&file_name).to_string();
        FilePart {
            bytes: bytes.into(),
            file_name,
            content_type,
        }
    }

    /// Reads a whole reader; name and content type as given.
    pub async fn from_reader(
        mut reader: impl AsyncRead + Unpin,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
    ) -> std::io::Result<Self> {
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf).await?;
        Ok(FilePart::new(buf, file_name, content_type))
    }

    /// Reads a file; the name is the path's file name and the content type is guessed from it.
    pub async fn from_path(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let path = path.as_ref();
        let bytes = tokio::fs::read(path).await?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        Ok(FilePart::from_bytes(bytes, name))
    }

    /// Sets the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// The file name.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The content type.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The content type for a file name, by extension; `application/octet-stream` when unknown.
pub fn content_type_for(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}
