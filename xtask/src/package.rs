//! Release checks of the three published crates (`miro-api`, `miro-api-extended`,
//! `miro-emulator`):
//!
//! - [`rust_version`]: each declares a `rust-version`, and no dependency it pulls in (by the
//!   lock file, every feature on, dev-dependencies aside) needs a newer Rust than it declares.
//!   Only one toolchain is installed, so this is checked from `cargo metadata`: the largest
//!   `rust-version` among the locked dependencies is the floor.
//! - [`package`]: `cargo package` of the three (with `--verify`, cargo also builds each from its
//!   `.crate`, the unpublished ones reached through its local overlay registry), then a consumer crate
//!   outside the workspace that depends on the three *by version*, `[patch.crates-io]` pointing
//!   at the unpacked `.crate`s: it starts the emulator in-process, calls it with `miro-api` and
//!   walks a page stream of `miro-api-extended`. The crate-level doctests of the packaged
//!   `miro-api` run there too (they need `miro-emulator`, a dev-dependency by version).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The crates published to crates.io, in publishing order (dependencies first).
pub const PUBLISHED: [&str; 3] = ["miro-emulator", "miro-api", "miro-api-extended"];

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A `rust-version` as numbers: "1.85" is `[1, 85, 0]`.
fn parse_version(text: &str) -> Option<[u64; 3]> {
    let mut out = [0u64; 3];
    let mut parts = text.trim().split('.');
    for slot in &mut out {
        match parts.next() {
            Some(p) => *slot = p.parse().ok()?,
            None => break,
        }
    }
    parts.next().is_none().then_some(out)
}

fn show(v: [u64; 3]) -> String {
    format!("{}.{}.{}", v[0], v[1], v[2])
}

/// What [`check_rust_versions`] found for one member.
#[derive(Debug, PartialEq)]
pub struct Finding {
    /// The member's name.
    pub member: String,
    /// Its declared `rust-version`, if any.
    pub declared: Option<[u64; 3]>,
    /// The newest Rust a locked dependency needs, and which dependency.
    pub needed: Option<([u64; 3], String)>,
}

impl Finding {
    /// Whether the declaration is present and not below what the dependencies need.
    pub fn ok(&self) -> bool {
        match (self.declared, &self.needed) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(d), Some((n, _))) => d >= *n,
        }
    }
}

/// Checks the `rust-version` of each member named in `members` against the `rust-version` of
/// every package it depends on (normal and build dependencies, transitively, for every target),
/// from the JSON of `cargo metadata --all-features`.
pub fn check_rust_versions(metadata: &Value, members: &[&str]) -> BoxResult<Vec<Finding>> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("metadata: no packages")?;
    let by_id: BTreeMap<&str, &Value> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("metadata: no resolve graph")?;
    // Package id -> the ids of its normal and build dependencies.
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in nodes {
        let id = node["id"].as_str().ok_or("metadata: node without id")?;
        let deps = node["deps"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let wanted = deps.iter().filter(|d| {
            d["dep_kinds"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].as_str() != Some("dev")))
        });
        edges.insert(id, wanted.filter_map(|d| d["pkg"].as_str()).collect());
    }
    let workspace: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .ok_or("metadata: no workspace members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut findings = Vec::new();
    for &member in members {
        let (root, package) = by_id
            .iter()
            .find(|(id, p)| workspace.contains(*id) && p["name"] == member)
            .ok_or_else(|| format!("{member} is not a workspace member"))?;
        let declared = match package["rust_version"].as_str() {
            Some(text) => Some(
                parse_version(text)
                    .ok_or_else(|| format!("{member}: unreadable rust-version {text:?}"))?,
            ),
            None => None,
        };
        let mut needed: Option<([u64; 3], String)> = None;
        let mut seen = BTreeSet::new();
        let mut todo = vec![*root];
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            todo.extend(edges.get(id).into_iter().flatten().copied());
            if id == *root {
                continue;
            }
            let Some(dep) = by_id.get(id) else { continue };
            let Some(v) = dep["rust_version"].as_str().and_then(parse_version) else {
                continue;
            };
            if needed.as_ref().is_none_or(|(n, _)| v > *n) {
                let name = format!(
                    "{} {}",
                    dep["name"].as_str().unwrap_or("?"),
                    dep["version"].as_str().unwrap_or("?")
                );
                needed = Some((v, name));
            }
        }
        findings.push(Finding {
            member: member.to_string(),
            declared,
            needed,
        });
    }
    Ok(findings)
}

/// `cargo xtask rust-version`: fails when a published crate declares no `rust-version`, or one
/// below what a locked dependency needs.
pub fn rust_version(root: &Path) -> BoxResult<bool> {
    let metadata = cargo_metadata(root, &["--all-features", "--locked"])?;
    let findings = check_rust_versions(&metadata, &PUBLISHED)?;
    let mut ok = true;
    for f in &findings {
        let declared = f.declared.map(show).unwrap_or_else(|| "none".into());
        let needed = match &f.needed {
            Some((v, by)) => format!("{} (by {by})", show(*v)),
            None => "nothing stated".into(),
        };
        let verdict = if !f.ok() {
            ok = false;
            "TOO LOW"
        } else if f
            .needed
            .as_ref()
            .is_some_and(|(n, _)| f.declared > Some(*n))
        {
            "ok (above the dependencies' need: say why in Cargo.toml)"
        } else {
            "ok"
        };
        println!(
            "{:<18} declares {declared:<8} dependencies need {needed}: {verdict}",
            f.member
        );
    }
    Ok(ok)
}

fn run(command: &mut Command) -> BoxResult<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})").into())
    }
}

/// The consumer program: the emulator in-process, one call with `miro-api`, a page stream of
/// `miro-api-extended`.
const CONSUMER_MAIN: &str = r#"use miro_api::types::{BoardChanges, StickyNoteCreateRequest, StickyNoteData};
use miro_api_extended::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = miro_emulator::Emulator::start().await?;
    let api = MiroApi::builder()
        .base_url(emulator.base_url())
        .access_token(emulator.access_token())
        .build();
    let board = api
        .create_board(&BoardChanges::default().name("From crates.io"))
        .await?;
    for n in 0..25 {
        let note = StickyNoteCreateRequest::default()
            .data(StickyNoteData::default().content(format!("note {n}")))
            .at(f64::from(n) * 250.0, 0.0);
        api.create_sticky_note_item(&board.id, &note).await?;
    }
    // Pages of 10: three requests.
    let items: Vec<_> = api.get_items(&board.id).limit(10).stream().try_collect().await?;
    assert_eq!(items.len(), 25, "the stream walks every page");
    assert_eq!(emulator.board_count(), 1);
    println!("consumer: board {} has {} items", board.id, items.len());
    emulator.shutdown().await;
    Ok(())
}
"#;

/// `cargo xtask package`: packages and verifies the three crates, then builds and runs the
/// consumer crate against the packaged sources, and the packaged `miro-api`'s front-page
/// doctests.
///
/// Without `verify`, `cargo package` runs with `--no-verify`: its verification builds each crate
/// in a target directory of its own (the three took 13 minutes on 2 busy cores), while the
/// consumer builds the same three packages, with their default features, once, in one target
/// directory, and by version as a user does. `verify` runs cargo's verification too.
pub fn package(root: &Path, target_dir: &Path, verify: bool) -> BoxResult<()> {
    let started = std::time::Instant::now();
    println!("== cargo package {}", PUBLISHED.join(" "));
    let mut command = Command::new(cargo());
    // `--allow-dirty`: the check runs before a commit too (CI's clone is clean anyway).
    command
        .current_dir(root)
        .args(["package", "--locked", "--allow-dirty"]);
    if !verify {
        command.arg("--no-verify");
    }
    for name in PUBLISHED {
        command.args(["-p", name]);
    }
    run(&mut command)?;

    // The `.crate` files, unpacked into a fresh directory (not the ones cargo verified in,
    // so nothing of the build lingers).
    let version = published_version(root)?;
    let work = target_dir.join("consumer");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(work.join("consumer/src"))?;
    for name in PUBLISHED {
        let file = target_dir.join(format!("package/{name}-{version}.crate"));
        run(Command::new("tar")
            .arg("-xzf")
            .arg(&file)
            .arg("-C")
            .arg(&work))?;
    }
    let patches: String = PUBLISHED
        .iter()
        .map(|name| format!("{name} = {{ path = \"{name}-{version}\" }}\n"))
        .collect();
    std::fs::write(
        work.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"2\"\nmembers = [\"consumer\", {members}]\n\n\
             [patch.crates-io]\n{patches}",
            members = PUBLISHED
                .iter()
                .map(|n| format!("\"{n}-{version}\""))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    )?;
    std::fs::write(
        work.join("consumer/Cargo.toml"),
        format!(
            "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\n\
             miro-api = \"{version}\"\nmiro-api-extended = \"{version}\"\n\
             miro-emulator = \"{version}\"\n\
             tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n"
        ),
    )?;
    std::fs::write(work.join("consumer/src/main.rs"), CONSUMER_MAIN)?;
    // The workspace's lock, so the consumer builds with the versions CI tested.
    std::fs::copy(root.join("Cargo.lock"), work.join("Cargo.lock"))?;

    // cargo gives every file of a `.crate` the same fixed mtime, so a consumer target kept
    // from an earlier run would take the packages' old builds for fresh: rebuild the three
    // (their dependencies stay built).
    let consumer_target = target_dir.join("consumer-target");
    if consumer_target.exists() {
        let mut clean = Command::new(cargo());
        clean
            .current_dir(&work)
            .env("CARGO_TARGET_DIR", &consumer_target)
            .args(["clean", "-q"]);
        for name in PUBLISHED {
            clean.args(["-p", name]);
        }
        run(&mut clean)?;
    }
    println!("== consumer crate outside the workspace (by version, patched to the packages)");
    run(Command::new(cargo())
        .current_dir(&work)
        .env("CARGO_TARGET_DIR", &consumer_target)
        .args(["run", "-q", "-p", "consumer"]))?;
    println!("   ({:.0?} so far)", started.elapsed());
    println!("== the packaged miro-api's crate-level doctests");
    run(Command::new(cargo())
        .current_dir(&work)
        .env("CARGO_TARGET_DIR", &consumer_target)
        .args(["test", "-q", "--doc", "-p", "miro-api", "--", "src/lib.rs"]))?;
    println!("== packaging checks passed in {:.0?}", started.elapsed());
    Ok(())
}

/// `cargo metadata --format-version 1` of the workspace at `root`, with `args`.
fn cargo_metadata(root: &Path, args: &[&str]) -> BoxResult<Value> {
    let output = Command::new(cargo())
        .current_dir(root)
        .args(["metadata", "--format-version", "1"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// The version of the published crates (the consumer depends on all three by it), as cargo
/// resolves their manifests; an error if they differ.
fn published_version(root: &Path) -> BoxResult<String> {
    let metadata = cargo_metadata(root, &["--no-deps"])?;
    let mut versions: Vec<&str> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| PUBLISHED.contains(&p["name"].as_str().unwrap_or_default()))
        .filter_map(|p| p["version"].as_str())
        .collect();
    versions.dedup();
    match versions[..] {
        [version] => Ok(version.to_string()),
        _ => Err(format!("the published crates have versions {versions:?}, not one").into()),
    }
}

/// The target directory cargo uses for this workspace.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(id: &str, name: &str, rust_version: Option<&str>) -> Value {
        json!({"id": id, "name": name, "version": "1.0.0", "rust_version": rust_version})
    }

    fn dep(pkg: &str, kind: Option<&str>) -> Value {
        json!({"pkg": pkg, "dep_kinds": [{"kind": kind}]})
    }

    fn metadata(declared: Option<&str>, dev_needs: &str) -> Value {
        json!({
            "packages": [
                package("me", "miro-api", declared),
                package("a", "a", Some("1.70")),
                package("b", "b", Some("1.89.0")),
                package("c", "c", None),
                package("d", "d", Some(dev_needs)),
            ],
            "workspace_members": ["me"],
            "resolve": {"nodes": [
                {"id": "me", "deps": [dep("a", None), dep("d", Some("dev"))]},
                {"id": "a", "deps": [dep("b", Some("build")), dep("c", None)]},
                {"id": "b", "deps": []},
                {"id": "c", "deps": []},
                {"id": "d", "deps": []},
            ]},
        })
    }

    #[test]
    fn a_transitive_dependency_sets_the_floor_and_dev_dependencies_do_not() {
        let found = check_rust_versions(&metadata(Some("1.89"), "1.99"), &["miro-api"]).unwrap();
        assert_eq!(found[0].needed, Some(([1, 89, 0], "b 1.0.0".to_string())));
        assert!(found[0].ok());
    }

    #[test]
    fn a_declaration_below_a_dependency_fails() {
        let found = check_rust_versions(&metadata(Some("1.85"), "1.0"), &["miro-api"]).unwrap();
        assert!(!found[0].ok());
    }

    #[test]
    fn no_declaration_fails() {
        let found = check_rust_versions(&metadata(None, "1.0"), &["miro-api"]).unwrap();
        assert!(!found[0].ok());
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert!(parse_version("1.100").unwrap() > parse_version("1.89.0").unwrap());
        assert_eq!(parse_version("1.85"), Some([1, 85, 0]));
        assert_eq!(parse_version("1.x"), None);
    }
}
