# Shared by the measuring scripts (`. "$(dirname "$0")/lib.sh"`).

# bench_bin DIR PACKAGE BENCH [TARGET_DIR]: builds that bench of the workspace at DIR (in
# TARGET_DIR, default cargo's own) and prints the path of its executable; fails without one.
bench_bin() {
  local path
  path="$(cd "$1" && CARGO_TARGET_DIR="${4:-${CARGO_TARGET_DIR:-$1/target}}" \
    cargo bench -q -p "$2" --bench "$3" --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)"
  [ -x "$path" ] || { echo "no executable for the bench $3 of $2 in $1" >&2; return 1; }
  echo "$path"
}

# need_valgrind: stops the script when valgrind is missing.
need_valgrind() {
  command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
}
