//! Generates the `miro-api` crate's code from Miro's OpenAPI spec.
//!
//! The pipeline: [`spec::resolve`] finds and verifies the pinned spec; [`fixes`] repairs it;
//! openapiv3 parses it; progenitor generates types and methods; [`postprocess`] rewrites what
//! progenitor gets wrong for Miro (open enums, item data chosen by the outer `type`, one runtime
//! call per method, multipart uploads); [`operations`] emits the operations table; prettyplease
//! formats. `cargo xtask gen` is a thin command line over [`generate`].

pub mod fixes;
pub mod spec;

use std::path::{Path, PathBuf};

/// An error of the generator.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The spec could not be found, read, verified or parsed.
    #[error("{0}")]
    Spec(String),
    /// progenitor refused the (fixed) spec.
    #[error("progenitor failed: {0}")]
    Progenitor(String),
    /// Generated code did not parse as Rust.
    #[error("generated code does not parse: {0}")]
    Syntax(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl GenError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        GenError::Io { path: path.to_path_buf(), source }
    }
}

/// Parses spec bytes and applies every fix, returning the fixed JSON.
pub fn fixed_spec(bytes: &[u8]) -> Result<(serde_json::Value, fixes::FixReport), GenError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| GenError::Spec(format!("spec is not JSON: {e}")))?;
    let report = fixes::apply_all(&mut value);
    Ok((value, report))
}

/// Runs progenitor on a fixed spec and returns its raw tokens.
pub fn progenitor_tokens(fixed: &serde_json::Value) -> Result<proc_macro2::TokenStream, GenError> {
    let api: openapiv3::OpenAPI = serde_json::from_value(fixed.clone())
        .map_err(|e| GenError::Spec(format!("fixed spec is not OpenAPI 3.0: {e}")))?;
    let mut settings = progenitor::GenerationSettings::default();
    settings.with_interface(progenitor::InterfaceStyle::Positional);
    let mut generator = progenitor::Generator::new(&settings);
    generator
        .generate_tokens(&api)
        .map_err(|e| GenError::Progenitor(e.to_string()))
}
