//! Support for the integration tests: a canned local HTTP server that records what it receives,
//! the pinned spec, and the generated table of the spec's examples.

pub mod canned;
#[rustfmt::skip]
pub mod spec_examples;

use std::path::PathBuf;

/// The pinned spec's bytes: from `MIRO_OPENAPI_SPEC` (a file or a directory holding
/// `miro-openapi-<commit8>.json`), else `openapi/.cache/`, else `../shared/openapi/` beside the
/// checkout. Panics with what it looked for, since a test cannot run without it.
pub fn pinned_spec() -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pin: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("openapi/pin.json")).expect("openapi/pin.json"),
    )
    .expect("pin.json is JSON");
    let commit = pin["commit"].as_str().expect("pin has a commit");
    let file = format!("miro-openapi-{}.json", &commit[..8]);
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("MIRO_OPENAPI_SPEC").map(PathBuf::from) {
        candidates.push(if p.is_dir() { p.join(&file) } else { p });
    }
    candidates.push(root.join("openapi/.cache").join(&file));
    candidates.push(root.join("../shared/openapi").join(&file));
    for c in &candidates {
        if let Ok(bytes) = std::fs::read(c) {
            return bytes;
        }
    }
    panic!("the pinned spec {file} is in none of {candidates:?}; set MIRO_OPENAPI_SPEC");
}
