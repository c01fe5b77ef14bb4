//! Support for the integration tests: local HTTP servers (scripted or canned answers) that record
//! what they receive,
//! the pinned spec, the generated table of the spec's examples, the generated table of request
//! types, and the generated harness that calls every operation.

#[rustfmt::skip]
pub mod all_operations;
pub mod canned;
pub mod item_kinds;
pub mod live_smoke;
pub mod log_capture;
pub mod scripted;
#[rustfmt::skip]
pub mod request_types;
#[rustfmt::skip]
pub mod spec_examples;
pub mod walk_world;

use std::path::PathBuf;

/// The pinned spec's bytes, verified against `openapi/pin.json` by the generator's own
/// resolution (`MIRO_OPENAPI_SPEC`, then `openapi/.cache/`, then a download), with
/// `../shared/openapi/` beside the checkout tried first when `MIRO_OPENAPI_SPEC` is unset.
/// Panics with the reason, since a test cannot run without it.
pub fn pinned_spec() -> Vec<u8> {
    use miro_api_gen::spec::{resolve, Pin};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pin = Pin::load(&root.join("openapi/pin.json")).unwrap_or_else(|e| panic!("{e}"));
    let shared = root.join("../shared/openapi");
    let explicit =
        (std::env::var_os("MIRO_OPENAPI_SPEC").is_none() && shared.is_dir()).then_some(shared);
    match resolve(&pin, explicit.as_deref(), &root.join("openapi/.cache")) {
        Ok(source) => source.bytes,
        Err(e) => panic!("the pinned spec is needed: {e}"),
    }
}

/// The folder of live response bodies (`index.json` and `bodies/`): `MIRO_LIVE_CORPUS`, or
/// `../shared/live-corpus` beside the checkout. The corpus is never committed. Panics with the
/// reason when it is missing, since a test cannot run without it.
pub fn live_corpus() -> PathBuf {
    let dir = match std::env::var_os("MIRO_LIVE_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/live-corpus"),
    };
    assert!(
        dir.join("index.json").is_file(),
        "the live corpus is needed: no index.json in {} (set MIRO_LIVE_CORPUS to its folder)",
        dir.display()
    );
    dir
}

/// An in-process emulator, a client of it (decoding strictly when `strict`) and a new board
/// named `name`: the set-up most emulator tests start from.
pub async fn emulator_with_board(
    name: &str,
    strict: bool,
) -> (miro_emulator::RunningEmulator, miro_api::MiroApi, String) {
    let emu = miro_emulator::Emulator::start()
        .await
        .expect("the emulator starts");
    let api = miro_api::MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .strict_decoding(strict)
        .build();
    let board = api
        .create_board(&miro_api::types::BoardChanges::default().name(name))
        .await
        .expect("a board")
        .into_inner()
        .id;
    (emu, api, board)
}
