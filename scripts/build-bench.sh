#!/usr/bin/env bash
# Build-cost figures of a checkout of this workspace (default: the one this script is in):
# clean debug build of `miro-api` alone, clean debug build of a one-call program (every
# dependency included), an incremental rebuild after touching the hand-written runtime, the
# stripped release size of the one-call program, and the time of `cargo xtask gen --check`.
#
#   scripts/build-bench.sh [CHECKOUT] > figures.txt
#
# Each figure is a line `name wall_s cpu_s` (or `name bytes`). Every build uses a fresh target
# directory under $TMPDIR, so runs are independent; run two checkouts one after the other on
# the same machine to compare them.
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
  awk -v n="$name" '{ printf "%s %.1f %.1f\n", n, $1, $2 + $3 }' "$work/time"
}

cd "$work/one-call"
cargo fetch -q
export CARGO_TARGET_DIR="$work/target"
timed one_call_clean_debug cargo build -q
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
CARGO_TARGET_DIR="$work/release" cargo build -q --release
echo "one_call_release_stripped_bytes $(stat -c %s "$work/release/release/one-call")"
cd "$root"
CARGO_TARGET_DIR="$work/gen" cargo build -q -p xtask
timed xtask_gen_check env CARGO_TARGET_DIR="$work/gen" cargo xtask gen --check
