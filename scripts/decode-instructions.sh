#!/usr/bin/env bash
# Decoding, before and after, on the very same bytes: instructions and mispredicted branches per
# item (cachegrind, which the machine's load does not change) and ns per item (the two sides
# alternated), for the pages of the decode bench (a 50-item page of each item type and of the
# nine mixed).
#
#   scripts/decode-instructions.sh BEFORE [ROUNDS] > figures.txt
#
# The pages come from this checkout's emulator (`DECODE_BENCH_DUMP`). Each side builds
# `scripts/decode-harness` against its own `miro-api` (BEFORE's with its own lock file): BEFORE
# decodes with `serde_json::from_slice` (what its client did), this checkout as its client does
# (`decode::from_slice` with the page list reserved) and with `from_slice`. Needs valgrind.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/lib.sh"
before_rev="${1:?usage: scripts/decode-instructions.sh BEFORE [ROUNDS]}"
rounds="${2:-5}"
export CARGO_TERM_COLOR=never
export MIRO_LIVE_CORPUS="${MIRO_LIVE_CORPUS:-$root/../shared/live-corpus}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
need_valgrind

git -C "$root" archive "$before_rev" | (mkdir -p "$work/before" && tar -x -C "$work/before")
mkdir -p "$work/pages"
decode_bench="$(bench_bin "$root" miro-tests decode)"
DECODE_BENCH_DUMP="$work/pages" "$decode_bench" >/dev/null

# harness SIDE MIRO_API_DIR LOCK FEATURES: builds the harness against that miro-api.
harness() {
  local dir="$work/harness-$1"
  mkdir -p "$dir/src"
  cp "$root/scripts/decode-harness/src/main.rs" "$dir/src/"
  cp "$3" "$dir/Cargo.lock"
  cat > "$dir/Cargo.toml" <<TOML
[package]
name = "decode-harness"
version = "0.0.0"
edition = "2021"
publish = false

[features]
client = []

[dependencies]
miro-api = { path = "$2", default-features = false, features = ["items"] }
serde_json = "1"

[profile.release]
debug = "line-tables-only"

[workspace]
TOML
  (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build -q --release $4)
  echo "$dir/target/release/decode-harness"
}
before="$(harness before "$work/before/miro-api" "$work/before/Cargo.lock" "")"
after="$(harness after "$root/miro-api" "$root/Cargo.lock" "--features client")"

# counts BINARY PAGE WAY: instructions and mispredicted branches (conditional and indirect,
# cachegrind's branch simulation) per item of one decode (and drop) of PAGE: the difference of a
# run of 100 decodes and one of none, over 100 times its 50 items.
counts() {
  local out="$work/cg" a b
  valgrind --tool=cachegrind --cache-sim=no --branch-sim=yes --cachegrind-out-file="$out.0" \
    "$1" "$2" 0 "$3" >/dev/null 2>&1
  valgrind --tool=cachegrind --cache-sim=no --branch-sim=yes --cachegrind-out-file="$out.1" \
    "$1" "$2" 100 "$3" >/dev/null 2>&1
  # summary: Ir Bc Bcm Bi Bim
  read -r -a a <<<"$(grep -h '^summary' "$out.0" | cut -d' ' -f2-)"
  read -r -a b <<<"$(grep -h '^summary' "$out.1" | cut -d' ' -f2-)"
  echo "$(((b[0] - a[0]) / 5000)) $(((b[2] + b[4] - a[2] - a[4]) / 5000))"
}

echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ); before $(git -C "$root" rev-parse --short "$before_rev"), after $(git -C "$root" rev-parse --short HEAD)"
echo "per item (decode and drop): instructions, and mispredicted branches (miss);"
echo "before: from_slice, after: as the client decodes, after-slice: from_slice"
printf '%-12s %10s %10s %12s %7s %12s %11s %7s\n' page before after after-slice ratio \
  before-miss after-miss ratio
for page in mixed sticky_note shape text card app_card frame embed image document; do
  f="$work/pages/$page.json"
  [ -f "$f" ] || continue
  read -r b bm <<<"$(counts "$before" "$f" slice)"
  read -r a am <<<"$(counts "$after" "$f" client)"
  read -r s _ <<<"$(counts "$after" "$f" slice)"
  printf '%-12s %10s %10s %12s %7s %12s %11s %7s\n' "$page" "$b" "$a" "$s" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", a/b}')" "$bm" "$am" \
    "$(awk -v a="$am" -v b="$bm" 'BEGIN{printf "%.3f", a/b}')"
done
echo "ns per item, the sides alternated, $rounds rounds of 2000 decodes"
for page in mixed sticky_note; do
  f="$work/pages/$page.json"
  for r in $(seq "$rounds"); do
    b="$("$before" "$f" 2000 | cut -d' ' -f1)"
    a="$("$after" "$f" 2000 client | cut -d' ' -f1)"
    echo "$page round $r: before $b after $a ratio $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", a/b}')"
  done
done
