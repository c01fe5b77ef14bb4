#!/usr/bin/env bash
# Every figure of BENCHMARKS.md in one run: the date, the machine, the build-cost figures of
# scripts/build-bench.sh with their ratios against the targets, then the runtime benches (per-call
# overhead against a raw reqwest call, decoding a 50-item page, decoding per item type, walking a
# board six ways, streaming 100,000 items).
#
#   scripts/benchmarks.sh [CHECKOUT] > figures.txt
#
# The build figures give wall time and CPU time (user + sys): on a shared machine the CPU time is
# the steadier one. Runs one command at a time.
set -euo pipefail
root="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
export MIRO_OPENAPI_SPEC="${MIRO_OPENAPI_SPEC:-$root/../shared/openapi}"

echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine $(nproc) cores, $(uname -m), $(rustc --version)"
echo "commit $(git -C "$root" rev-parse --short HEAD)"

figures="$(mktemp)"
trap 'rm -f "$figures"' EXIT
"$here/build-bench.sh" "$root" | tee "$figures"
awk '
  $1 == "miro_api_alone_debug_default" { dw = $2; dc = $3 }
  $1 == "miro_api_alone_debug_all_features" { aw = $2; ac = $3 }
  $1 == "one_call_release_stripped_bytes" { size = $2 }
  END {
    if (aw > 0) printf "ratio default/all features: wall %.2f, cpu %.2f (target <= 0.50)\n", dw / aw, dc / ac
    if (size > 0) printf "one-call stripped: %.2f MB (target < 5 MB)\n", size / 1e6
  }' "$figures"

if [ "${BENCH_RUNTIME:-1}" = 1 ]; then
  cd "$root"
  echo "== runtime: cargo bench -p miro-tests --bench runtime"
  cargo bench -q -p miro-tests --bench runtime 2>&1 | grep -E "time:|thrpt:|^call|^decode|overhead|items page" || true
  echo "== decoding per item type: cargo bench -p miro-tests --bench decode"
  MIRO_LIVE_CORPUS="${MIRO_LIVE_CORPUS:-$root/../shared/live-corpus}" \
    cargo bench -q -p miro-tests --bench decode 2>&1 | sed -n '/^page /,$p'
  echo "== walking a board six ways: cargo bench -p miro-api-extended --bench walk"
  cargo bench -q -p miro-api-extended --bench walk 2>&1
  echo "== streaming: cargo bench -p miro-api-extended --bench stream -- 100000"
  cargo bench -q -p miro-api-extended --bench stream -- 100000 2>&1 | grep -v "^seeded"
fi
