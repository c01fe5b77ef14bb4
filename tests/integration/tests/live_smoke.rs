//! The live smoke run against the emulator (it goes to Miro only from the example, with
//! `MIRO_TEST_TOKEN` and `MIRO_TEST_BOARD_ID`): every step succeeds, and the board is left as
//! it was found.

use miro_api::MiroApi;
use miro_emulator::Emulator;

#[tokio::test]
async fn the_smoke_run_passes_and_leaves_the_board_as_it_found_it() {
    let emu = Emulator::start().await.unwrap();
    let api = MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .build();
    let board = api
        .create_board(&Default::default())
        .await
        .unwrap()
        .into_inner()
        .id;
    let report = miro_tests::live_smoke::run(&api, &board).await;
    let failed: Vec<_> = report.steps.iter().filter(|s| s.outcome.is_err()).collect();
    assert!(failed.is_empty(), "{report}");
    assert!(report.steps.len() >= 25, "{report}");
    // Everything created was deleted (comments go with their card).
    let items = api.get_items(&board).limit(50).await.unwrap();
    assert!(items.data.is_empty(), "{:?}", items.data);
    let tags = api.get_tags_from_board(&board).await.unwrap();
    assert!(tags.data.is_empty(), "{tags:?}");
    let connectors = api.get_connectors(&board).limit(50).await.unwrap();
    assert!(connectors.data.is_empty());
}
