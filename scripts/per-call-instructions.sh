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
. "$root/scripts/lib.sh"
calls="${1:-2000}"
export CARGO_TERM_COLOR=never
need_valgrind
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bench="$(bench_bin "$root" miro-tests runtime)"

# counts SIDE N: cachegrind's totals (Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw) of N calls.
counts() {
  PER_CALL_ONLY="$1" PER_CALL_N="$2" valgrind --tool=cachegrind --cache-sim=yes \
    --cachegrind-out-file="$work/$1.$2" "$bench" >/dev/null 2>&1
  grep -h '^summary' "$work/$1.$2" | cut -d' ' -f2-
}

echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ); $(git -C "$root" rev-parse --short HEAD); $calls calls a side"
printf '%-18s %12s %8s %8s %8s %8s\n' side instructions I1-miss D1-read D1-write ratio
# per K: counter K of the side in hand (the arrays `zero` and `many`), per call.
per() { echo $(((many[$1] - zero[$1]) / calls)); }
raw_ir="" # the first side's instructions, what the ratios are to
for side in raw raw_timeout client client_unlimited; do
  read -r -a zero <<<"$(counts "$side" 0)"
  read -r -a many <<<"$(counts "$side" "$calls")"
  ir="$(per 0)"
  raw_ir="${raw_ir:-$ir}"
  printf '%-18s %12s %8s %8s %8s %8s\n' "$side" "$ir" "$(per 1)" "$(per 4)" "$(per 7)" \
    "$(awk -v a="$ir" -v b="$raw_ir" 'BEGIN{printf "%.3f", a/b}')"
done
