//! Settings: a missing one stops the program at once, naming it; a `.env` file is read.

use std::process::Command;

fn run(dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_folder-sync"));
    cmd.current_dir(dir)
        .env_remove("WATCH_FOLDER")
        .env_remove("MIRO_BOARD_ID")
        .env_remove("MIRO_ACCESS_TOKEN")
        .env_remove("SYNC_STATE_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_setting_fails_fast_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, err) = run(dir.path(), &[]);
    assert!(!ok);
    assert!(err.contains("WATCH_FOLDER"), "{err}");

    // With a token, the board is required.
    let (ok, err) = run(
        dir.path(),
        &[
            ("WATCH_FOLDER", dir.path().to_str().unwrap()),
            ("MIRO_ACCESS_TOKEN", "not-used"),
        ],
    );
    assert!(!ok);
    assert!(err.contains("MIRO_BOARD_ID"), "{err}");
    assert!(!err.contains("not-used"), "the token is not printed");

    // The same settings from a .env file in the working directory.
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "WATCH_FOLDER={}\nMIRO_ACCESS_TOKEN=not-used\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let (ok, err) = run(dir.path(), &[]);
    assert!(!ok);
    assert!(err.contains("MIRO_BOARD_ID"), "{err}");
}
