//! `cargo xtask gen [--check] [--spec PATH] [--report]`: regenerates the `miro-api` code from the
//! pinned spec, checks it for drift, or reports how another spec differs from the pinned one.
//!
//! `cargo xtask test [ARGS..]`: resolves the spec, finds or installs what the tests need besides
//! Rust (PostgreSQL, Chromium and chromedriver; see [`setup`]), checks the published crates'
//! `rust-version`, then runs `cargo test --workspace ARGS..`.
//!
//! `cargo xtask rust-version` and `cargo xtask package`: the release checks of [`package`].

mod package;
mod setup;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use miro_api_gen::{generate, report, spec};

const USAGE: &str = "usage: cargo xtask gen [--check] [--spec PATH] [--report [OLD NEW]]
       cargo xtask test [ARGS..]
       cargo xtask rust-version
       cargo xtask package [--verify]

  gen                 regenerate miro-api/src/generated, miro-cli/src/generated and the
                      emulator's and tests' generated tables from the pinned spec
  gen --check         regenerate in memory; fail with a summary if the committed files differ
  gen --spec PATH     take the spec from PATH (a file, or a directory holding the pinned file);
                      MIRO_OPENAPI_SPEC does the same. Otherwise openapi/.cache/, then a download.
  gen --report OLD NEW
                      classify the change from spec OLD to spec NEW (files, or directories
                      holding the pinned file name or one .json): generate both and compare the
                      generated APIs; print each change as patch, minor or major, the raw spec
                      difference, and the version the release needs after the current one
  gen --spec PATH --report
                      the same with OLD = the pinned spec and NEW = PATH

  test [ARGS..]       run the workspace tests: resolve the spec (MIRO_OPENAPI_SPEC, the cache,
                      a download), find PostgreSQL (initdb, pg_ctl), Chromium and chromedriver,
                      install the missing ones with apt when root on Debian/Ubuntu (else stop,
                      naming what to install), check the rust-version (below), then
                      `cargo test --workspace ARGS..`

  rust-version        fail when miro-api, miro-api-extended or miro-emulator declares no
                      rust-version, or one below what a locked dependency needs
  package [--verify]  `cargo package` the three crates (--verify: cargo also builds each from
                      its .crate, in a target of its own), then build and run a consumer crate
                      outside the workspace that depends on them by version (patched to the
                      packages), and the packaged miro-api's crate-level doctests";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}

/// `cargo xtask test`: see [`setup`] for what it looks for and when it installs.
fn test(cargo_args: &[String]) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let root = workspace_root();
    let pin = spec::Pin::load(&root.join("openapi/pin.json"))?;
    let cache = root.join("openapi/.cache");
    let explicit = std::env::var_os("MIRO_OPENAPI_SPEC").map(PathBuf::from);
    let source = spec::resolve(&pin, explicit.as_deref(), &cache)?;
    println!("== spec: {}", source.origin);
    // The tests resolve the spec themselves; point them at the file just checked.
    let spec_for_tests = explicit.unwrap_or_else(|| cache.join(pin.file_name()));

    let places = setup::SearchPlaces::from_system();
    let mut missing = setup::probe(&places);
    let host = setup::Host::detect(&places);
    match setup::plan(&missing, host) {
        setup::Plan::Ready => {}
        setup::Plan::Stop(message) => return Err(message.into()),
        setup::Plan::Install(commands) => {
            let names: Vec<&str> = missing.iter().map(|c| c.package()).collect();
            println!("== installing {} with apt", names.join(", "));
            for command in &commands {
                let status = Command::new(&command[0])
                    .args(&command[1..])
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .status()
                    .map_err(|e| format!("cannot run {}: {e}", command.join(" ")))?;
                if !status.success() {
                    return Err(format!("`{}` failed ({status})", command.join(" ")).into());
                }
            }
            missing = setup::probe(&places);
            if !missing.is_empty() {
                return Err(format!(
                    "still missing after the install: {}",
                    setup::stop_message(&missing, host)
                )
                .into());
            }
        }
    }
    println!("== PostgreSQL, Chromium and chromedriver found");

    println!("== rust-version of the published crates");
    if !package::rust_version(&root)? {
        return Err("a published crate's rust-version is below what its dependencies need".into());
    }

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("== cargo test --workspace {}", cargo_args.join(" "));
    let status = Command::new(cargo)
        .current_dir(&root)
        .env("MIRO_OPENAPI_SPEC", &spec_for_tests)
        .args(["test", "--workspace"])
        .args(cargo_args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run(args: &[String]) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut check = false;
    let mut report_only = false;
    let mut report_pair: Option<(PathBuf, PathBuf)> = None;
    let mut spec_path: Option<PathBuf> = None;
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("gen") => {}
        Some("test") => return test(&args[1..]),
        Some("rust-version") => {
            let ok = package::rust_version(&workspace_root())?;
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        Some("package") => {
            let root = workspace_root();
            let verify = match args.get(1).map(String::as_str) {
                None => false,
                Some("--verify") => true,
                Some(other) => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
            };
            package::package(&root, &package::target_dir(&root), verify)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(other) => return Err(format!("unknown task {other:?}\n{USAGE}").into()),
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--report" => {
                report_only = true;
                let rest: Vec<&String> = it.clone().take(2).collect();
                if rest.len() == 2 && rest.iter().all(|a| !a.starts_with("--")) {
                    report_pair = Some((rest[0].into(), rest[1].into()));
                    it.next();
                    it.next();
                }
            }
            "--spec" => spec_path = Some(it.next().ok_or("--spec needs a path")?.into()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let root = workspace_root();
    let pin = spec::Pin::load(&root.join("openapi/pin.json"))?;
    let cache = root.join("openapi/.cache");

    if report_only {
        let (old, old_name, new, new_name) = match (report_pair, spec_path) {
            (Some((old, new)), _) => {
                let (o, on) = read_spec(&pin, &old)?;
                let (n, nn) = read_spec(&pin, &new)?;
                (o, on, n, nn)
            }
            (None, Some(other)) => {
                let pinned = spec::resolve(&pin, None, &cache)?;
                let (n, nn) = read_spec(&pin, &other)?;
                (pinned.bytes, pinned.origin, n, nn)
            }
            (None, None) => {
                return Err(
                    "--report needs OLD NEW (or --spec PATH to compare with the pin)".into(),
                )
            }
        };
        let current = current_version(&root)?;
        return report(&pin, &current, (&old, &old_name), (&new, &new_name));
    }

    let source = spec::resolve(&pin, spec_path.as_deref(), &cache)?;
    let started = Instant::now();
    let (files, stats) = generate(&pin, &source.bytes)?;
    let elapsed = started.elapsed();
    if check {
        let drift = miro_api_gen::drift(&root, &files);
        if drift.is_empty() {
            println!(
                "generated code is up to date ({} files, {} operations)",
                files.len(),
                stats.operations
            );
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("generated code has drifted from the generator (run `cargo xtask gen`):");
        for d in drift {
            eprintln!("  {d}");
        }
        return Ok(ExitCode::FAILURE);
    }
    for file in &files {
        let path = root.join(file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &file.contents)?;
    }
    println!(
        "generated {} files, {} lines from {} in {:.2?}: {} operations ({} multipart), {} open enums, {} structs decoding item data by type",
        files.len(),
        stats.lines,
        source.origin,
        elapsed,
        stats.operations,
        stats.multipart,
        stats.open_enums,
        stats.tagged_structs
    );
    println!(
        "  sealed {} structs and {} enums (#[non_exhaustive]), added {} setters and {} constructors",
        stats.sealed.structs, stats.sealed.enums, stats.sealed.setters, stats.sealed.constructors
    );
    println!(
        "  docs: {} public fields and variants had none ({} got a generated sentence), {} descriptions cleaned of HTML, {} types got a generated sentence",
        stats.documented.undocumented_before,
        stats.documented.generated,
        stats.documented.cleaned,
        stats.documented.types_generated
    );
    for (name, n) in &stats.fixes {
        println!("  fix {name}: {n} change(s)");
    }
    Ok(ExitCode::SUCCESS)
}

/// A spec's bytes and a name for it: `path` is a file, or a directory holding the pinned file
/// name or exactly one `.json` file.
fn read_spec(
    pin: &spec::Pin,
    path: &Path,
) -> Result<(Vec<u8>, String), Box<dyn std::error::Error>> {
    let file = if path.is_dir() {
        let pinned = path.join(pin.file_name());
        if pinned.is_file() {
            pinned
        } else {
            let json: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            match &json[..] {
                [one] => one.clone(),
                _ => {
                    return Err(format!(
                        "{}: holds neither {} nor exactly one .json file; name the file",
                        path.display(),
                        pin.file_name()
                    )
                    .into())
                }
            }
        }
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((bytes, file.display().to_string()))
}

/// The `version = ".."` of the `[section]` of a manifest, if it has one.
fn manifest_version(manifest: &str, section: &str) -> Option<String> {
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == section;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(v) = line
            .strip_prefix("version")
            .and_then(|rest| rest.trim_start().strip_prefix('='))
        {
            return Some(v.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// The version of `miro-api`: its manifest's, else (`version.workspace = true`) the
/// workspace's.
fn current_version(root: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let own = std::fs::read_to_string(root.join("miro-api/Cargo.toml"))?;
    if let Some(v) = manifest_version(&own, "[package]") {
        return Ok(v);
    }
    let workspace = std::fs::read_to_string(root.join("Cargo.toml"))?;
    manifest_version(&workspace, "[workspace.package]")
        .ok_or_else(|| "no version in miro-api/Cargo.toml nor in [workspace.package]".into())
}

/// `gen --report`: the generated APIs of both specs compared, each change classified, the raw
/// spec difference, and the version the release needs.
fn report(
    pin: &spec::Pin,
    current: &str,
    (old, old_name): (&[u8], &str),
    (new, new_name): (&[u8], &str),
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    println!("{old_name} -> {new_name}");
    let diff = report::compare(old, new)?;
    println!("== spec difference (after the fixes)");
    print!("{diff}");
    let findings = report::classify_specs(pin, old, new)?;
    println!("== generated API: {} change(s)", findings.len());
    for f in &findings {
        println!("{:>5}  {}", f.bump, f.what);
    }
    match report::bump_of(&findings) {
        None => println!(
            "== no change to the generated API or its docs: no release needed (current {current})"
        ),
        Some(bump) => {
            let counts = |b| findings.iter().filter(|f| f.bump == b).count();
            println!(
                "== {bump} change ({} major, {} minor, {} patch): release {} after {current}",
                counts(report::Bump::Major),
                counts(report::Bump::Minor),
                counts(report::Bump::Patch),
                report::next_version(current, bump)?
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
