#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short, fixed time each.
#
#   scripts/fuzz.sh [-l] [TIME]
#
# TIME is a -fuzztime value (default 5s; "10s", "1m", or "500x" for a count
# of executions). -l only lists the targets, one "PACKAGE NAME" per line.
# Each target runs on its own, as Go requires:
#
#   go test -run '^$' -fuzz '^NAME$' -fuzztime TIME ./PACKAGE
#
# Targets are found from the source (every `func FuzzXxx(f *testing.F)` in a
# _test.go file outside testdata/), so a new one is run without editing this
# script. A failure leaves the crashing input under PACKAGE/testdata/fuzz/NAME/,
# where plain `go test` replays it from then on: commit it with the fix.
# Extra flags for go test can be given in $FUZZFLAGS (e.g. "-parallel 2").
# The exit status is 1 if any target failed, 2 on a usage error.
set -uo pipefail
cd "$(dirname "$0")/.."

list=0
if [ "${1:-}" = "-l" ]; then
  list=1
  shift
fi
if [ $# -gt 1 ] || [[ "${1:-}" == -* ]]; then
  echo "usage: scripts/fuzz.sh [-l] [TIME]" >&2
  exit 2
fi
fuzztime="${1:-5s}"

# "PACKAGE NAME" for every fuzz target, sorted.
targets() {
  grep -rEo --include='*_test.go' --exclude-dir=testdata --exclude-dir=vendor --exclude-dir=.git \
    '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
    sed -E 's|^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*$|./\1 \2|; s|^\./[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*$|. \1|' |
    sort -u
}

all=$(targets)
if [ -z "$all" ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
if [ "$list" = 1 ]; then
  echo "$all"
  exit 0
fi

failed=()
n=0
while read -r pkg name; do
  n=$((n + 1))
  echo "=== fuzz $pkg $name ($fuzztime)"
  log=$(mktemp)
  # shellcheck disable=SC2086 # FUZZFLAGS is a list of flags
  rc=0
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" ${FUZZFLAGS:-} "$pkg" >"$log" 2>&1 || rc=$?
  cat "$log"
  if [ "$rc" != 0 ]; then
    # Go's fuzzer can end a run with "context deadline exceeded" when
    # -fuzztime runs out mid-minimisation, with no failing input: not a
    # finding. Such a run is repeated once; a real crash writes its input
    # ("Failing input written to") and fails at once.
    if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
      echo "fuzz: $name ended on the fuzzer's deadline with no failing input; running it once more"
      # shellcheck disable=SC2086
      go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" ${FUZZFLAGS:-} "$pkg" || failed+=("$pkg $name")
    else
      failed+=("$pkg $name")
    fi
  fi
  rm -f "$log"
done <<<"$all"

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of $n targets failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: all $n targets passed ($fuzztime each)"
