//! The built `miro` binary against the emulator: every operation of the pinned spec through
//! its command, a walk of 1,000 items, bodies from stdin and refused ones, `miro api`, the
//! OAuth sign-in, `--dry-run` and exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use miro_api::operations::OPERATIONS;
use miro_cli::generated::commands::COMMANDS;
use miro_cli::table::{BodyKind, Param};
use miro_tests::all_operations::{default_body, REQUIRED_QUERIES};
use miro_tests::walk_world::{reached_as, World};
use serde_json::{json, Value};

const MIRO: &str = env!("CARGO_BIN_EXE_miro");

/// A `miro` process with the emulator's address and token, nothing else from the environment
/// that could change its behaviour.
fn miro(base_url: &str, token: Option<&str>) -> Command {
    let mut cmd = Command::new(MIRO);
    cmd.env_remove("MIRO_ACCESS_TOKEN")
        .env_remove("MIRO_API_BASE_URL")
        .env_remove("MIRO_CLIENT_ID")
        .env_remove("MIRO_CLIENT_SECRET")
        .env_remove("MIRO_AUTH_BASE_URL")
        .env("MIRO_API_BASE_URL", base_url)
        .env(
            "MIRO_CONFIG_DIR",
            std::env::temp_dir().join("miro-cli-test-none"),
        );
    if let Some(t) = token {
        cmd.env("MIRO_ACCESS_TOKEN", t);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs a command off the async runtime (the emulator answers on it).
async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("miro runs"))
        .await
        .expect("joined")
}

/// Runs a command with `stdin` as its input.
async fn output_with_stdin(mut cmd: Command, stdin: Vec<u8>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("miro runs");
        child.stdin.take().unwrap().write_all(&stdin).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A flag's value from a JSON value: strings as they are, the rest as JSON.
fn flag_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn flag_of<'a>(params: &'a [Param], wire: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name == wire)
}

/// A one-pixel PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_runs_through_its_command() {
    let world = World::new().await.expect("fixtures");
    let base = world.emu.base_url();
    let token = world.emu.access_token();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("walk.png");
    std::fs::write(&png, PNG).unwrap();
    assert_eq!(OPERATIONS.len(), 197, "the pinned spec has 197 operations");
    assert_eq!(
        COMMANDS.len(),
        OPERATIONS.len(),
        "one command per operation"
    );
    let mut failures = Vec::new();
    for (n, op) in OPERATIONS.iter().enumerate() {
        let Some(c) = COMMANDS.iter().find(|c| c.id == op.id) else {
            failures.push(format!("{}: no command", op.id));
            continue;
        };
        let args = match world.args(op).await {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{}: fixtures: {e}", op.id));
                continue;
            }
        };
        let mut argv: Vec<String> = vec![c.area.into(), c.action.into()];
        for p in c.path_params {
            let v = args.path.get(p.name).cloned().unwrap_or_default();
            argv.push(format!("--{}", p.flag));
            argv.push(v);
        }
        let required = REQUIRED_QUERIES
            .iter()
            .find(|(id, _)| *id == op.id)
            .map(|(_, q)| *q)
            .unwrap_or_default();
        for (wire, default) in required {
            let value = match args.query.get(*wire) {
                Some(v) => v.clone(),
                None => serde_json::from_str(default).unwrap(),
            };
            let p = flag_of(c.query_params, wire)
                .unwrap_or_else(|| panic!("{}: no flag for query {wire}", op.id));
            let values = match &value {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for v in values {
                argv.push(format!("--{}", p.flag));
                argv.push(flag_value(&v));
            }
        }
        if c.body != BodyKind::None {
            if let Some(body) = args.body.clone().or_else(|| default_body(op.id)) {
                let file = dir.path().join(format!("body-{n}.json"));
                std::fs::write(&file, body.to_string()).unwrap();
                argv.push("--body".into());
                argv.push(file.display().to_string());
            }
        }
        for f in c.file_parts {
            let count = args.files.as_ref().map_or(1, |f| f.len().max(1));
            for _ in 0..(if f.many { count } else { 1 }) {
                argv.push("--file".into());
                argv.push(png.display().to_string());
            }
        }
        let before = world.emu.requests().len();
        let mut cmd = miro(&base, Some(&token));
        cmd.args(&argv);
        let out = output(cmd).await;
        if !out.status.success() {
            failures.push(format!(
                "{}: `miro {}` exited {:?}: {}",
                op.id,
                argv.join(" "),
                out.status.code(),
                text(&out.stderr).trim()
            ));
            continue;
        }
        match reached_as(&world.emu, before, op) {
            Ok(req) => {
                if !matches!(req.status, Some(200..=299)) {
                    failures.push(format!("{}: status {:?}", op.id, req.status));
                }
                // Sent as its operation is (SCIM's own media type), not as plain JSON.
                let accept = req.headers.iter().find(|(name, _)| name == "accept");
                if op.media_type != "application/json"
                    && accept.map(|(_, v)| v.as_str()) != Some(op.media_type)
                {
                    failures.push(format!("{}: sent with accept {accept:?}", op.id));
                }
            }
            Err(failure) => failures.push(failure),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} operations fail through the CLI:\n{}",
        failures.len(),
        OPERATIONS.len(),
        failures.join("\n")
    );
}

/// An emulator with a board of `n` sticky notes, created in bulk through the library.
async fn board_with_items(n: usize, log: bool) -> (miro_emulator::RunningEmulator, String) {
    let emu = miro_emulator::Emulator::builder()
        .rate_limit(u64::MAX / 4, std::time::Duration::from_secs(60))
        .log_requests(log)
        .start()
        .await
        .unwrap();
    let api = miro_api::MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .build();
    let create_board = miro_api::operations::find("create-board").unwrap();
    let board: Value = api
        .call_operation::<Value>(create_board, &[], &[], Some(&json!({"name": "walk"})))
        .await
        .unwrap()
        .into_inner();
    let board = board["id"].as_str().unwrap().to_string();
    let create_items = miro_api::operations::find("create-items").unwrap();
    let mut left = n;
    while left > 0 {
        let k = left.min(20);
        let items: Vec<Value> = (0..k)
            .map(|i| json!({"type": "sticky_note", "data": {"content": format!("note {i}")}}))
            .collect();
        api.call_operation::<Value>(create_items, &[&board], &[], Some(&Value::Array(items)))
            .await
            .unwrap();
        left -= k;
    }
    (emu, board)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_walks_a_thousand_items_as_ndjson_and_resumes_from_a_cursor() {
    let (emu, board) = board_with_items(1000, false).await;
    let base = emu.base_url();
    let token = emu.access_token();
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["items", "list", "--board", &board, "--all"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON item per line"))
        .collect();
    assert_eq!(lines.len(), 1000);
    let ids: std::collections::BTreeSet<&str> =
        lines.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1000, "every item once");

    // One page, then the rest from its cursor.
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["items", "list", "--board", &board, "--limit", "10"]);
    let first: Value = serde_json::from_slice(&output(cmd).await.stdout).unwrap();
    let cursor = first["cursor"].as_str().expect("a cursor").to_string();
    let mut cmd = miro(&base, Some(&token));
    cmd.args([
        "items", "list", "--board", &board, "--all", "--cursor", &cursor,
    ]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 990);

    // A walk that fails midway names the cursor to resume from; resuming there gives the rest,
    // each item once. The child is stopped by a full stdout pipe, the fault set, then the
    // pipe drained: the next page is refused.
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["items", "list", "--board", &board, "--all", "--limit", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let fault = emu
        .inject_fault(
            miro_emulator::Fault::new(miro_emulator::FaultKind::ServerError(400))
                .on("GET /v2/boards/{board_id}/items"),
        )
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    emu.remove_fault(fault);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let cursor = err
        .split("resume with --cursor ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no cursor to resume from: {err}"))
        .to_string();
    let mut cmd = miro(&base, Some(&token));
    cmd.args([
        "items", "list", "--board", &board, "--all", "--limit", "10", "--cursor", &cursor,
    ]);
    let rest = output(cmd).await;
    assert!(rest.status.success(), "{}", text(&rest.stderr));
    let mut resumed: Vec<String> = text(&out.stdout)
        .lines()
        .chain(text(&rest.stdout).lines())
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        text(&out.stdout).lines().count() < 1000,
        "the walk stopped midway"
    );
    resumed.sort();
    resumed.dedup();
    assert_eq!(
        resumed.len(),
        1000,
        "interrupted + resumed = every item once"
    );

    // The same walk through `miro api --paginate`.
    let mut cmd = miro(&base, Some(&token));
    cmd.args([
        "api",
        "GET",
        &format!("/v2/boards/{board}/items?limit=50"),
        "--paginate",
    ]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_from_stdin_are_sent_as_given_and_wrong_ones_are_refused() {
    let (emu_log, board) = board_with_items(0, true).await;
    let base = emu_log.base_url();
    let token = emu_log.access_token();

    // From stdin, sent byte for byte: nothing added.
    let body = br#"{"data": {"content": "from stdin"}, "position": {"x": 5}}"#.to_vec();
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["sticky-notes", "create", "--board", &board, "--body", "-"]);
    let out = output_with_stdin(cmd, body.clone()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["data"]["content"], "from stdin");
    let sent = emu_log.requests().last().unwrap().body.clone();
    assert_eq!(&sent[..], &body[..], "the body goes out as given");

    // A field of the wrong type: refused before sending, naming the field.
    let before = emu_log.requests().len();
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["sticky-notes", "create", "--board", &board, "--body", "-"]);
    let out = output_with_stdin(cmd, br#"{"data": {"content": 5}}"#.to_vec()).await;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("data.content"), "{err}");
    assert!(err.contains("nothing sent"), "{err}");
    // A misspelt field: refused too.
    let mut cmd = miro(&base, Some(&token));
    cmd.args([
        "sticky-notes",
        "create",
        "--board",
        &board,
        "--set",
        "data.contnt=x",
    ]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("data.contnt"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        emu_log.requests().len(),
        before,
        "nothing reached the emulator"
    );

    // Body fields as flags: only what was given goes out.
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["boards", "update", "--board", &board, "--name", "Renamed"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sent: Value = serde_json::from_slice(&emu_log.requests().last().unwrap().body).unwrap();
    assert_eq!(sent, json!({"name": "Renamed"}));

    // `miro api` with a body, and the exit code of a 404.
    let mut cmd = miro(&base, Some(&token));
    cmd.args([
        "api",
        "POST",
        &format!("/v2/boards/{board}/tags"),
        "--set",
        "title=api",
    ]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tag: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tag["title"], "api");
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["boards", "get", "--board", "no-such-board"]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("404"));

    // A dry run prints the request, with the id percent-encoded and never the token.
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["boards", "get", "--board", "a/b c", "--dry-run"]);
    let out = output(cmd).await;
    assert!(out.status.success());
    let printed = text(&out.stdout);
    assert!(
        printed.starts_with(&format!("GET {base}/v2/boards/a%2Fb%20c")),
        "{printed}"
    );
    assert!(!printed.contains(&token) && !text(&out.stderr).contains(&token));

    // An offset walk (boards), as NDJSON and as a table.
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["boards", "create", "--name", "second"]);
    assert!(output(cmd).await.status.success());
    let mut cmd = miro(&base, Some(&token));
    cmd.args(["boards", "list", "--all", "--limit", "1"]);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let names: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let mut cmd = miro(&base, Some(&token));
    cmd.args([
        "boards", "list", "--all", "--limit", "1", "--output", "table",
    ]);
    let table = text(&output(cmd).await.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "a header and two rows: {table}");
    assert!(
        rows[0].starts_with("ID") && table.contains("second"),
        "{table}"
    );

    // No token at all: the auth exit code.
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = miro(&base, None);
    cmd.env("MIRO_CONFIG_DIR", empty.path())
        .args(["boards", "list"]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_signs_in_through_the_emulator_then_logout_revokes() {
    let emu = miro_emulator::Emulator::start().await.unwrap();
    let base = emu.base_url();
    let config = tempfile::tempdir().unwrap();
    let mut cmd = miro(&base, None);
    cmd.env("MIRO_CONFIG_DIR", config.path())
        .args(["login", "--no-browser"])
        .args(["--client-id", &emu.client_id()])
        .env("MIRO_CLIENT_SECRET", emu.client_secret())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    // The sign-in URL on stderr; follow it as a browser would (the emulator approves and
    // redirects to the CLI's loopback listener). Stderr is read to its end, so the CLI's
    // last lines find the pipe open.
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut rest = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("http") {
                let _ = url_tx.send(line.clone());
            }
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    });
    let url = tokio::task::spawn_blocking(move || url_rx.recv().expect("a sign-in URL"))
        .await
        .unwrap();
    assert!(
        url.starts_with(&format!("{base}/oauth/authorize?")),
        "{url}"
    );
    // miro-api's TLS set-up: reqwest has no crypto provider of its own in this build.
    let http = miro_api::http_client_builder().build().unwrap();
    let page = http.get(&url).send().await.unwrap();
    assert!(page.status().is_success());
    assert!(page.text().await.unwrap().contains("Signed in"));
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let said = reader.join().unwrap();
    assert!(status.success(), "{said}");
    assert!(
        said.contains(&format!("Signed in as user {}", emu.user_id())),
        "{said}"
    );
    let tokens = config.path().join("tokens.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&tokens).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = std::fs::metadata(config.path().join("login.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    // The stored tokens serve later commands.
    let whoami = |config: &std::path::Path| {
        let mut cmd = miro(&base, None);
        cmd.env("MIRO_CONFIG_DIR", config).arg("whoami");
        cmd
    };
    let out = output(whoami(config.path())).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["user"]["id"].as_str(), Some(emu.user_id().as_str()));

    // Logout revokes at the emulator and forgets the login.
    let stored: Value = serde_json::from_slice(&std::fs::read(&tokens).unwrap()).unwrap();
    let access = stored["users"][emu.user_id()]["access_token"]
        .as_str()
        .expect("the stored access token")
        .to_string();
    let mut cmd = miro(&base, None);
    cmd.env("MIRO_CONFIG_DIR", config.path()).arg("logout");
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!config.path().join("login.json").exists());
    let out = output(whoami(config.path())).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let mut cmd = miro(&base, Some(&access));
    cmd.arg("whoami");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(3), "the revoked token is refused");
    assert!(!text(&out.stderr).contains(&access), "no token in errors");
}

#[test]
fn completions_and_help_come_from_the_table() {
    let out = Command::new(MIRO)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = text(&out.stdout);
    assert!(script.contains("sticky-notes") && script.contains("--board-id"));
    let out = Command::new(MIRO)
        .args(["items", "list", "--help"])
        .output()
        .unwrap();
    let help = text(&out.stdout);
    assert!(help.contains("Required scope: boards:read"), "{help}");
    assert!(help.contains("Rate limit: level"), "{help}");
    assert!(!help.contains("<br"), "HTML is stripped: {help}");
    // Enum values are offered and checked.
    let out = Command::new(MIRO)
        .args([
            "items",
            "list",
            "--board",
            "b",
            "--type",
            "nope",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("sticky_note"),
        "{}",
        text(&out.stderr)
    );
}
