#!/usr/bin/env bash
# Before/after figures of decoding, in one run: builds the decode benches (`miro-tests`'
# `decode` and `runtime`, `miro-api-extended`'s `walk`) of this checkout and of BEFORE (a commit
# of this repository: its library code, built with this checkout's bench sources so that both
# sides are measured the same way), then runs the two sides alternately, PASSES times:
#
#   scripts/decode-bench.sh BEFORE [PASSES] > figures.txt
#
# - decode: ns per item of a 50-item page of each item type, and of the live corpus's items
#   (MIRO_LIVE_CORPUS, default ../shared/live-corpus);
# - walk: a 10,000-item board walked six ways, the ways alternated within each process
#   (WALK_ROUNDS rounds, default 31), medians and ratios;
# - per call: `get_specific_board` through the client against raw reqwest, alternated.
#
# The machine is shared: compare ratios, and sides measured in the same pass.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/lib.sh"
before_rev="${1:?usage: scripts/decode-bench.sh BEFORE [PASSES]}"
passes="${2:-3}"
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export MIRO_LIVE_CORPUS="${MIRO_LIVE_CORPUS:-$root/../shared/live-corpus}"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT

git -C "$root" archive "$before_rev" | tar -x -C "$tree"
for f in tests/integration/benches/decode.rs tests/integration/benches/runtime.rs \
  tests/integration/src/item_kinds.rs miro-api-extended/benches/walk.rs \
  miro-api-extended/benches/common/mod.rs; do
  mkdir -p "$tree/$(dirname "$f")"
  cp "$root/$f" "$tree/$f"
done

# The before side has its own target directory: the two workspaces' crates would have the
# same names in a shared one, and the extracted sources are older than any build.
declare -A bin
for side in before after; do
  dir="$root" target="$CARGO_TARGET_DIR"
  [ "$side" = before ] && dir="$tree" target="$CARGO_TARGET_DIR/decode-bench-before"
  for bench in miro-tests:decode miro-tests:runtime miro-api-extended:walk; do
    path="$(bench_bin "$dir" "${bench%%:*}" "${bench#*:}" "$target")"
    bin[$side.${bench#*:}]="$path"
  done
done

echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine $(nproc) cores, $(uname -m), $(rustc --version)"
echo "before $(git -C "$root" rev-parse --short "$before_rev"), after $(git -C "$root" rev-parse --short HEAD)"
for pass in $(seq "$passes"); do
  for side in before after; do
    echo "== pass $pass, $side: decode (ns per item)"
    "${bin[$side.decode]}" --bench --warm-up-time 1 --measurement-time 3 2>&1 | sed -n '/^page /,$p'
  done
  for side in before after; do
    echo "== pass $pass, $side: walk; load $(cut -d' ' -f1-3 /proc/loadavg)"
    "${bin[$side.walk]}" "${WALK_ROUNDS:-31}"
  done
  for side in before after; do
    echo "== pass $pass, $side: per call"
    # A filter that matches no criterion bench: only the alternated calls run.
    "${bin[$side.runtime]}" --bench no-criterion-bench 2>&1 | grep -E "^per-call overhead \(alternating"
  done
done
