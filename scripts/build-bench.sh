#!/usr/bin/env bash
# Build-cost figures of a checkout of this workspace (default: the one this script is in):
# a one-call program (`get_specific_board` through miro-api) against the same call through bare
# reqwest (the same reqwest version, features and TLS back end, decoding a struct with serde):
# clean debug and release builds of each (every dependency included) and the stripped release
# sizes, with the ratios miro-api / bare reqwest. Then (unless BUILD_BENCH_RATIOS_ONLY=1) a clean
# debug build of `miro-api` alone, an incremental rebuild after touching the hand-written
# runtime, and the time of `cargo xtask gen --check`.
#
#   scripts/build-bench.sh [CHECKOUT] > figures.txt
#
# Each figure is a line `name wall_s cpu_s` (or `name bytes`, or `name ratio`). Every build uses
# a fresh target directory under $TMPDIR, so runs are independent; both sides use the same
# CARGO_BUILD_JOBS and the workspace's Cargo.lock, and are built one after the other (debug
# miro-api, debug bare, release miro-api, release bare), so the ratios compare like with like.
set -euo pipefail
root="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CARGO_TERM_COLOR=never
export MIRO_OPENAPI_SPEC="${MIRO_OPENAPI_SPEC:-$root/../shared/openapi}"

# The one-call program: a crate outside the workspace that depends on miro-api by path.
mkdir -p "$work/one-call/src"
cat > "$work/one-call/Cargo.toml" <<TOML
[package]
name = "one-call"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
miro-api = { path = "$root/miro-api" }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }

[profile.release]
strip = true

[workspace]
TOML
cat > "$work/one-call/src/main.rs" <<'RS'
#[tokio::main]
async fn main() {
    let token = std::env::var("MIRO_ACCESS_TOKEN").unwrap_or_default();
    let api = miro_api::MiroApi::new(token);
    match api.get_specific_board("uXjVOD6LSME=").await {
        Ok(board) => println!("{}", board.name),
        Err(e) => eprintln!("{e}"),
    }
}
RS
if [ -f "$root/Cargo.lock" ]; then cp "$root/Cargo.lock" "$work/one-call/Cargo.lock"; fi

# `timed NAME CMD...`: prints NAME, wall seconds and CPU seconds (user + sys) of CMD.
timed() {
  local name=$1; shift
  /usr/bin/time -o "$work/time" -f "%e %U %S" "$@" >/dev/null 2>"$work/stderr" || {
    echo "$name failed:" >&2
    cat "$work/stderr" >&2
    exit 1
  }
  awk -v n="$name" '{ printf "%s %.1f %.1f\n", n, $1, $2 + $3 }' "$work/time" | tee -a "$work/figures"
}

# The same call through bare reqwest: miro-api's reqwest dependency as its default features
# have it (version, features, TLS back end), read from `cargo tree` below.
mkdir -p "$work/bare/src"
cat > "$work/bare/src/main.rs" <<'RS'
#[derive(serde::Deserialize)]
struct Board {
    name: String,
}

/// The client as miro-api builds it: with `rustls-no-provider`, reqwest needs a rustls
/// configuration (ring, webpki roots) handed to it, or it panics.
fn client() -> reqwest::Client {
    let builder = reqwest::Client::builder();
    #[cfg(feature = "ring")]
    let builder = {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        builder.tls_backend_preconfigured(config)
    };
    builder.build().unwrap()
}

#[tokio::main]
async fn main() {
    let token = std::env::var("MIRO_ACCESS_TOKEN").unwrap_or_default();
    let sent = client()
        .get("https://api.miro.com/v2/boards/uXjVOD6LSME%3D")
        .bearer_auth(token)
        .send()
        .await;
    match sent {
        Ok(response) => match response.json::<Board>().await {
            Ok(board) => println!("{}", board.name),
            Err(e) => eprintln!("{e}"),
        },
        Err(e) => eprintln!("{e}"),
    }
}
RS
if [ -f "$root/Cargo.lock" ]; then cp "$root/Cargo.lock" "$work/bare/Cargo.lock"; fi

cd "$work/one-call"
cargo fetch -q
# reqwest's version and features in the one-call program (what miro-api's defaults turn on).
reqwest_version=$(cargo tree -q -i reqwest -e normal --depth 0 | sed -n 's/^reqwest v\([^ ]*\).*/\1/p' | head -1)
reqwest_features=$(cargo tree -q -e features -i reqwest --prefix none \
  | sed -n 's/^reqwest feature "\([^"]*\)".*/"\1"/p' | grep -v '"default"' | sort -u | paste -sd, -)
# miro-api's `rustls-tls` hands reqwest a ring configuration: the bare program does the same.
ring_deps=""
case "$reqwest_features" in
  *rustls-no-provider*)
    ring_deps='rustls = { version = "0.23", default-features = false, features = ["ring", "std", "tls12"] }
webpki-roots = "1"

[features]
default = ["ring"]
ring = []' ;;
esac
cat > "$work/bare/Cargo.toml" <<TOML
[package]
name = "bare-reqwest"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
reqwest = { version = "=$reqwest_version", default-features = false, features = [$reqwest_features] }
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
$ring_deps

[profile.release]
strip = true

[workspace]
TOML
echo "bare_reqwest $reqwest_version features [$reqwest_features]" >&2
(cd "$work/bare" && cargo fetch -q)

export CARGO_TARGET_DIR="$work/target"
timed one_call_clean_debug cargo build -q
(cd "$work/bare" && CARGO_TARGET_DIR="$work/bare-target" timed bare_clean_debug cargo build -q)
CARGO_TARGET_DIR="$work/release" timed one_call_clean_release cargo build -q --release
(cd "$work/bare" && CARGO_TARGET_DIR="$work/bare-release" timed bare_clean_release cargo build -q --release)
one_size=$(stat -c %s "$work/release/release/one-call")
bare_size=$(stat -c %s "$work/bare-release/release/bare-reqwest")
echo "one_call_release_stripped_bytes $one_size"
echo "bare_release_stripped_bytes $bare_size"
awk -v s1="$one_size" -v s2="$bare_size" '
  { cpu[$1] = $3 }
  END {
    printf "ratio_cpu_debug %.2f\n", cpu["one_call_clean_debug"] / cpu["bare_clean_debug"]
    printf "ratio_cpu_release %.2f\n", cpu["one_call_clean_release"] / cpu["bare_clean_release"]
    printf "ratio_stripped_size %.3f\n", s1 / s2
  }' "$work/figures"
[ "${BUILD_BENCH_RATIOS_ONLY:-0}" = 1 ] && exit 0
touch "$root/miro-api/src/client.rs"
timed incremental_runtime_touch cargo build -q
cargo clean -q -p miro-api
timed miro_api_alone_debug_default cargo build -q -p miro-api
if grep -q '^full *=' "$root/miro-api/Cargo.toml"; then
  # Features of a dependency are chosen in the manifest (`--features` only reaches members).
  sed -i 's|^miro-api = { path = \(.*\) }$|miro-api = { path = \1, features = ["full"] }|' Cargo.toml
  grep -q 'features = \["full"\]' Cargo.toml
  cargo clean -q -p miro-api
  timed miro_api_alone_debug_all_features cargo build -q -p miro-api
  sed -i 's|, features = \["full"\] }$| }|' Cargo.toml
fi
cd "$root"
CARGO_TARGET_DIR="$work/gen" cargo build -q -p xtask
timed xtask_gen_check env CARGO_TARGET_DIR="$work/gen" cargo xtask gen --check
