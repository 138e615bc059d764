#!/bin/bash
# One bad-input case of the personakit CLI, run by CTest:
#   expect_error.sh CODE REGEX ABSENT -- COMMAND...
# passes when COMMAND exits with CODE, prints exactly one line on stderr, that line
# matches the extended regex REGEX and starts with "personakit: error: ", and the
# file ABSENT ("-" for none) does not exist afterwards, nor any temporary of it.
set -u
code=$1 regex=$2 absent=$3
shift 3
[ "${1:-}" = "--" ] && shift
[ "$absent" != "-" ] && rm -f -- "$absent"
cmd="$*"
stderr=$("$@" 2>&1 >/dev/null)
rc=$?
fail() { echo "FAIL: $*"; echo "command: $cmd"; echo "stderr: $stderr"; exit 1; }
[ "$rc" = "$code" ] || fail "exit code $rc, expected $code"
lines=$(printf '%s\n' "$stderr" | grep -c .)
[ "$lines" = 1 ] || fail "expected exactly one line on stderr, got $lines"
case "$stderr" in "personakit: error: "*) ;; *) fail "stderr does not start with 'personakit: error: '" ;; esac
printf '%s' "$stderr" | grep -Eq -- "$regex" || fail "stderr does not match /$regex/"
if [ "$absent" != "-" ]; then
  [ -e "$absent" ] && fail "output $absent was left behind"
  dir=$(dirname -- "$absent") base=$(basename -- "$absent")
  if [ -d "$dir" ]; then
    left=$(find "$dir" -maxdepth 1 -name "$base.tmp*" | head -1)
    [ -n "$left" ] && fail "temporary $left was left behind"
  fi
fi
echo "ok (exit $rc): $stderr"
