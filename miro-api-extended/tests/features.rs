//! miro-api-extended passes its features on to miro-api and adds none of its own: what
//! `cargo tree` resolves for miro-api (and reqwest's TLS) under three feature choices.

use std::collections::BTreeSet;
use std::process::Command;

/// The features cargo resolves for each package named in `packages`, with these arguments.
fn resolved(args: &[&str], package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "tree",
            "--manifest-path",
            manifest,
            "-p",
            "miro-api-extended",
        ])
        .args(["-e", "normal", "--prefix", "none", "-f", "{p}|{f}"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{package} ")))
        .unwrap_or_else(|| panic!("{package} not in the tree:\n{text}"));
    let features = line
        .split('|')
        .nth(1)
        .unwrap_or("")
        .trim_end_matches(" (*)");
    features
        .split(',')
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn native_tls_and_a_few_areas_give_miro_api_exactly_those() {
    let args = [
        "--no-default-features",
        "--features",
        "native-tls,items,tags",
    ];
    assert_eq!(
        resolved(&args, "miro-api"),
        set(&["items", "native-tls", "tags"])
    );
    let reqwest = resolved(&args, "reqwest");
    assert!(reqwest.contains("native-tls"), "{reqwest:?}");
    assert!(!reqwest.contains("rustls-tls"), "{reqwest:?}");
}

#[test]
fn no_features_give_miro_api_none() {
    assert_eq!(
        resolved(&["--no-default-features"], "miro-api"),
        BTreeSet::new()
    );
}

#[test]
fn the_defaults_are_miro_apis_defaults() {
    assert_eq!(
        resolved(&[], "miro-api"),
        set(&[
            "board_members",
            "boards",
            "connectors",
            "frames",
            "groups",
            "items",
            "rustls-tls",
            "tags",
            "tokens",
        ])
    );
}
