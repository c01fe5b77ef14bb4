//! The state file: what a first emulator created over HTTP, a second one started with the
//! same file serves again; damaged or unreadable files are errors; writes are atomic.

mod common;

use std::path::Path;

use common::{enc, Api};
use miro_emulator::{Emulator, Error, StateError, STATE_SAVE_DELAY};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

fn with_state(path: &Path) -> miro_emulator::EmulatorBuilder {
    Emulator::builder().state_file(path)
}

/// Fills a board with one of everything the state keeps, over HTTP; returns its id.
async fn fill(api: &Api) -> String {
    let board = api.board("Kept").await;
    let b = enc(&board);
    let sticky = api.sticky(&board, "remember me").await;
    let (s, frame) = api
        .post(
            &format!("/v2/boards/{b}/frames"),
            json!({"data": {"title": "Doing"}, "geometry": {"width": 800, "height": 600}}),
        )
        .await;
    assert_eq!(s, 201, "{frame}");
    let frame = frame["id"].as_str().unwrap().to_string();
    let (s, card) = api
        .post(
            &format!("/v2/boards/{b}/cards"),
            json!({"data": {"title": "Card"}, "parent": {"id": frame}}),
        )
        .await;
    assert_eq!(s, 201, "{card}");
    let card = card["id"].as_str().unwrap().to_string();
    let (s, tag) = api
        .post(
            &format!("/v2/boards/{b}/tags"),
            json!({"title": "urgent", "fillColor": "red"}),
        )
        .await;
    assert_eq!(s, 201, "{tag}");
    let tag = tag["id"].as_str().unwrap().to_string();
    let (s, _) = api
        .call(
            Method::POST,
            &format!("/v2/boards/{b}/items/{card}?tag_id={tag}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, c) = api
        .post(
            &format!("/v2/boards/{b}/connectors"),
            json!({"startItem": {"id": sticky}, "endItem": {"id": card}}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let (s, g) = api
        .post(
            &format!("/v2/boards/{b}/groups"),
            json!({"data": {"items": [sticky, card]}}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let (s, m) = api
        .post(
            &format!("/v2/boards/{b}/members"),
            json!({"emails": ["ann@example.com"], "role": "editor"}),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    let (s, t) = api
        .post(
            &format!("/v2-experimental/boards/{b}/comments"),
            json!({"content": "why?", "itemId": sticky}),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let thread = t["id"].as_str().unwrap();
    let (s, _) = api
        .post(
            &format!("/v2-experimental/boards/{b}/comments/{thread}/messages"),
            json!({"content": "because"}),
        )
        .await;
    assert_eq!(s, 201);
    let form = Form::new().part(
        "resource",
        Part::bytes(b"\x89PNG\r\n\x1a\nnot really a picture".to_vec())
            .file_name("cat.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let resp = api
        .http
        .post(api.url(&format!("/v2/boards/{b}/images")))
        .bearer_auth(&api.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    board
}

/// Everything a client can read about the emulator's boards and organisation, as JSON.
async fn read_all(api: &Api) -> Value {
    let mut out = json!({});
    let (_, boards) = api.get("/v2/boards?limit=50").await;
    out["boards"] = boards.clone();
    for board in boards["data"].as_array().unwrap() {
        let id = board["id"].as_str().unwrap();
        let b = enc(id);
        let mut dump = json!({});
        for (key, path) in [
            ("board", format!("/v2/boards/{b}")),
            ("items", format!("/v2/boards/{b}/items?limit=50")),
            ("tags", format!("/v2/boards/{b}/tags?limit=50")),
            ("connectors", format!("/v2/boards/{b}/connectors?limit=50")),
            ("groups", format!("/v2/boards/{b}/groups?limit=50")),
            ("members", format!("/v2/boards/{b}/members?limit=50")),
            (
                "comments",
                format!("/v2-experimental/boards/{b}/comments?limit=50"),
            ),
        ] {
            let (s, v) = api.get(&path).await;
            assert_eq!(s, 200, "{path}: {v}");
            dump[key] = v;
        }
        let mut files = json!({});
        let mut item_tags = json!({});
        for item in dump["items"]["data"].as_array().unwrap().clone() {
            let iid = item["id"].as_str().unwrap();
            let (_, tags) = api.get(&format!("/v2/boards/{b}/items/{iid}/tags")).await;
            item_tags[iid] = tags;
            if item["type"] == "image" {
                let bytes = api
                    .send(
                        Method::GET,
                        &format!("/v2/boards/{b}/resources/{iid}"),
                        None,
                    )
                    .await
                    .bytes()
                    .await
                    .unwrap();
                files[iid] = json!(bytes.to_vec());
            }
        }
        dump["itemTags"] = item_tags;
        dump["files"] = files;
        out[id] = dump;
    }
    let org = api.emu.org_id();
    let (_, members) = api.get(&format!("/v2/orgs/{org}/members")).await;
    let (_, teams) = api.get(&format!("/v2/orgs/{org}/teams")).await;
    out["orgMembers"] = members;
    out["teams"] = teams;
    out
}

/// The numeric ids in a JSON document.
fn ids(v: &Value, out: &mut Vec<u64>) {
    match v {
        Value::String(s) if s.len() == 19 => out.extend(s.parse::<u64>().ok()),
        Value::Array(a) => a.iter().for_each(|x| ids(x, out)),
        Value::Object(o) => o.values().for_each(|x| ids(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn what_one_emulator_created_the_next_one_serves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");

    let api = Api::with(with_state(&path).enterprise(5, 1, 3)).await;
    let org = api.emu.org_id();
    let board = fill(&api).await;
    let (s, team) = api
        .post(&format!("/v2/orgs/{org}/teams"), json!({"name": "Ops"}))
        .await;
    assert_eq!(s, 201, "{team}");
    let before = read_all(&api).await;
    let old_base = api.emu.base_url();
    api.emu.shutdown_and_save().await.unwrap();

    // Another port, the same file; `enterprise` is ignored for a state that exists.
    let api = Api::with(with_state(&path).enterprise(50, 5, 5)).await;
    let new_base = api.emu.base_url();
    assert_ne!(old_base, new_base);
    let after = read_all(&api).await;
    let expected: Value =
        serde_json::from_str(&before.to_string().replace(&old_base, &new_base)).unwrap();
    assert_eq!(after, expected, "the restarted emulator answers the same");
    assert_eq!(
        after[&board]["items"]["total"], 4,
        "sticky, frame, card, image"
    );
    assert_eq!(
        after[&board]["comments"]["data"][0]["messages"][1]["content"],
        "because"
    );
    assert_eq!(after["teams"]["data"].as_array().unwrap().len(), 2);

    // New ids come after every id the file holds.
    let mut old_ids = Vec::new();
    ids(&after, &mut old_ids);
    let newest = api.sticky(&board, "after the restart").await;
    assert!(newest.parse::<u64>().unwrap() > *old_ids.iter().max().unwrap());
    api.emu.shutdown().await;
}

#[tokio::test]
async fn changes_are_saved_without_a_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let api = Api::with(with_state(&path)).await;
    let board = api.board("Autosaved").await;
    // The saver writes STATE_SAVE_DELAY after the change; the emulator is then leaked,
    // as a killed process would be, and never shut down.
    let deadline = std::time::Instant::now() + STATE_SAVE_DELAY * 20;
    while !std::fs::read_to_string(&path).unwrap().contains(&board) {
        assert!(std::time::Instant::now() < deadline, "never saved");
        tokio::time::sleep(STATE_SAVE_DELAY / 4).await;
    }
    std::mem::forget(api);
    let api = Api::with(with_state(&path)).await;
    let (s, b) = api.get(&format!("/v2/boards/{}", enc(&board))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["name"], "Autosaved");
}

#[tokio::test]
async fn dropping_the_emulator_saves_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let api = Api::with(with_state(&path)).await;
    let board = api.board("Dropped").await;
    // Well before STATE_SAVE_DELAY: only the drop can have written it.
    drop(api);
    let api = Api::with(with_state(&path)).await;
    let (s, b) = api.get(&format!("/v2/boards/{}", enc(&board))).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn damaged_files_fail_the_start_and_stay_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let api = Api::with(with_state(&path)).await;
    api.board("One").await;
    api.emu.shutdown_and_save().await.unwrap();
    let good = std::fs::read(&path).unwrap();

    let truncated = &good[..good.len() / 2];
    let mut other_version: Value = serde_json::from_slice(&good).unwrap();
    other_version["version"] = json!(2);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (truncated.to_vec(), "corrupt"),
        (Vec::new(), "corrupt"),
        (b"{\"boards\": {}}".to_vec(), "corrupt"),
        (
            String::from_utf8(good.clone())
                .unwrap()
                .replacen("\"nextId\"", "\"nextIds\"", 1)
                .into_bytes(),
            "corrupt",
        ),
        (other_version.to_string().into_bytes(), "version"),
    ];
    for (bytes, kind) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let err = with_state(&path).start().await.expect_err("refused");
        let Error::State { path: p, source } = &err else {
            panic!("not a state error: {err}");
        };
        assert_eq!(p, &path);
        match kind {
            "corrupt" => assert!(matches!(source, StateError::Corrupt(_)), "{err}"),
            _ => assert!(
                matches!(source, StateError::Version { found: 2, .. }),
                "{err}"
            ),
        }
        assert!(err.to_string().contains("state.json"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "left as it was");
    }

    // A directory where the file should be cannot be read.
    let err = with_state(dir.path()).start().await.expect_err("refused");
    assert!(
        matches!(
            &err,
            Error::State {
                source: StateError::Read(_),
                ..
            }
        ),
        "{err}"
    );
    // A file that cannot be written fails at start, not at the first change.
    let err = with_state(&dir.path().join("missing/state.json"))
        .start()
        .await
        .expect_err("refused");
    assert!(
        matches!(
            &err,
            Error::State {
                source: StateError::Write(_),
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn readers_never_see_half_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let api = Api::with(with_state(&path)).await;
    let board = api.board("Big").await;
    // A large state makes each write long enough to be caught half-way.
    for i in 0..4 {
        let (s, _) = api
            .post(
                &format!("/v2/boards/{}/sticky_notes", enc(&board)),
                json!({"data": {"content": "x".repeat(5000) + &i.to_string()}}),
            )
            .await;
        assert_eq!(s, 201);
    }
    for _ in 0..200 {
        api.post(
            &format!("/v2/boards/{}/tags", enc(&board)),
            json!({"title": "t"}),
        )
        .await;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut reads, mut bad) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match std::fs::read(&path) {
                    Ok(b) if serde_json::from_slice::<Value>(&b).is_ok() => reads += 1,
                    _ => bad += 1,
                }
            }
            (reads, bad)
        })
    };
    for _ in 0..100 {
        api.emu.save_state().await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (reads, bad) = reader.join().unwrap();
    assert!(reads > 0);
    assert_eq!(bad, 0, "{bad} of {} reads saw a partial file", reads + bad);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
}

/// The binary, run twice over one state file, as a "run it twice" script would.
mod binary {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    use super::*;

    struct Server {
        child: Child,
        base: String,
    }

    impl Drop for Server {
        /// A failed test leaves no server behind (a no-op after `terminate`).
        fn drop(&mut self) {
            if self.child.try_wait().ok().flatten().is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }

    fn spawn(state: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_miro-emulator"))
            .args(["--port", "0", "--quiet", "--state"])
            .arg(state)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("the server prints its URL").unwrap();
            if let Some(url) = line.strip_prefix("Miro emulator listening on ") {
                break url.to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, base }
    }

    /// The exit status of `child`; killed and a panic when it runs on for 20 s.
    fn exit_status(child: &mut Child) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the emulator did not exit");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut s: Server) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &s.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        exit_status(&mut s.child)
    }

    async fn call(base: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = common::http_builder()
            .build()
            .unwrap()
            .request(method, format!("{base}{path}"))
            .bearer_auth(miro_emulator::DEFAULT_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// An idempotent script: make sure the board "Team" exists with one sticky note per
    /// name; returns how many it created.
    async fn script(base: &str, names: &[&str]) -> usize {
        let boards = call(base, Method::GET, "/v2/boards", None).await;
        let board = match boards["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "Team")
        {
            Some(b) => b["id"].as_str().unwrap().to_string(),
            None => call(
                base,
                Method::POST,
                "/v2/boards",
                Some(json!({"name": "Team"})),
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        };
        let b = enc(&board);
        let items = call(
            base,
            Method::GET,
            &format!("/v2/boards/{b}/items?limit=50"),
            None,
        )
        .await;
        let have: Vec<&str> = items["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["data"]["content"].as_str())
            .collect();
        let mut created = 0;
        for name in names.iter().filter(|n| !have.contains(n)) {
            call(
                base,
                Method::POST,
                &format!("/v2/boards/{b}/sticky_notes"),
                Some(json!({"data": {"content": name}})),
            )
            .await;
            created += 1;
        }
        created
    }

    #[tokio::test]
    async fn a_script_run_twice_finds_its_board_the_second_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.json");

        let server = spawn(&path);
        assert_eq!(script(&server.base, &["ann", "bob"]).await, 2);
        assert!(terminate(server).success(), "a clean exit saves");

        let server = spawn(&path);
        assert_eq!(script(&server.base, &["ann", "bob", "cy"]).await, 1);
        let boards = call(&server.base, Method::GET, "/v2/boards", None).await;
        assert_eq!(boards["total"], 1, "one board, not two: {boards}");
        assert!(terminate(server).success());

        // Killed (no shutdown): what was saved after the change survives.
        let mut server = spawn(&path);
        assert_eq!(script(&server.base, &["ann", "bob", "cy", "dee"]).await, 1);
        // Written STATE_SAVE_DELAY after the change, with no signal.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read_to_string(&path).unwrap().contains("\"dee\"") {
            assert!(std::time::Instant::now() < deadline, "never saved");
            tokio::time::sleep(STATE_SAVE_DELAY / 4).await;
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let server = spawn(&path);
        assert_eq!(script(&server.base, &["ann", "bob", "cy", "dee"]).await, 0);
        assert!(terminate(server).success());
    }

    #[tokio::test]
    async fn a_damaged_file_stops_the_binary_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.json");
        std::fs::write(&path, b"{\"format\": \"miro-emulator-state\", \"vers").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_miro-emulator"))
            .args(["--port", "0", "--state"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(!exit_status(&mut child).success());
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(
            stderr.contains("dev.json") && stderr.contains("not a valid emulator state file"),
            "{stderr}"
        );
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
        assert!(!stdout.contains("listening"), "{stdout}");
    }
}
