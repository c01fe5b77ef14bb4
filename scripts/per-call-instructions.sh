#!/usr/bin/env bash
# The cost of one call through the client against the same call in raw reqwest, as counted by
# valgrind (cachegrind), which the machine's load does not change: instructions, and the first
# level cache's misses (instructions, data read, data written), per call of `get_specific_board`
# against the in-process emulator (emulator included, on both sides alike).
#
#   scripts/per-call-instructions.sh [CALLS] > figures.txt
#
# Each side runs the runtime bench's `PER_CALL_ONLY` mode twice, with 0 and CALLS calls (default
# 2000) after the same warm-up; the difference over CALLS is the cost of a call. Sides: `raw`,
# `raw_timeout` (raw reqwest in a tokio time limit), `client` (as built by default) and
# `client_unlimited` (no time limits). Needs valgrind.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
calls="${1:-2000}"
export CARGO_TERM_COLOR=never
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bench="$(cd "$root" && cargo bench -q -p miro-tests --bench runtime --no-run \
  --message-format=json 2>/dev/null | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)"

# counts SIDE N: cachegrind's totals (Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw) of N calls.
counts() {
  PER_CALL_ONLY="$1" PER_CALL_N="$2" valgrind --tool=cachegrind --cache-sim=yes \
    --cachegrind-out-file="$work/$1.$2" "$bench" >/dev/null 2>&1
  grep -h '^summary' "$work/$1.$2" | cut -d' ' -f2-
}

echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ); $(git -C "$root" rev-parse --short HEAD); $calls calls a side"
printf '%-18s %12s %8s %8s %8s %8s\n' side instructions I1-miss D1-read D1-write ratio
raw_ir=""
for side in raw raw_timeout client client_unlimited; do
  read -r -a zero <<<"$(counts "$side" 0)"
  read -r -a many <<<"$(counts "$side" "$calls")"
  per() { echo $(((many[$1] - zero[$1]) / calls)); }
  ir="$(per 0)"
  raw_ir="${raw_ir:-$ir}"
  printf '%-18s %12s %8s %8s %8s %8s\n' "$side" "$ir" "$(per 1)" "$(per 4)" "$(per 7)" \
    "$(awk -v a="$ir" -v b="$raw_ir" 'BEGIN{printf "%.3f", a/b}')"
done
