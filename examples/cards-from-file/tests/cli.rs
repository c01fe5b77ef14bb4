//! The program's exit code: 0 when every row is on the board, 2 when rows failed.

use std::process::Command;

fn run(file_text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cards.csv");
    std::fs::write(&file, file_text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cards-from-file"))
        .arg(&file)
        .env_remove("MIRO_ACCESS_TOKEN")
        .env_remove("MIRO_BOARD_ID")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn failed_rows_give_a_non_zero_exit_code() {
    let (code, out) = run("key,title,due_date\nA-1,Fine,\nA-2,Bad date,next week\n");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("line 3 (key A-2)"), "{out}");
    let (code, out) = run("key,title\nA-1,Fine\n");
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn the_bundled_sample_runs_clean() {
    let out = Command::new(env!("CARGO_BIN_EXE_cards-from-file"))
        .env_remove("MIRO_ACCESS_TOKEN")
        .env_remove("MIRO_BOARD_ID")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("the second run made 0 write calls"), "{text}");
}
