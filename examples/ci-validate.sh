#!/bin/sh
# CI check for oms-channels account files: runs
#   oms-channels validate --all-accounts --strict --offline --json
# over a config dir (--offline: CI has no production secrets, so whether they
# are present here is not checked), prints one line per finding, and fails the build on any
# finding (errors and warnings alike) or on a file that cannot be parsed.
#
# Usage:  examples/ci-validate.sh [CONFIG_DIR]
#   CONFIG_DIR    default: $OMS_CHANNELS_CONFIG_DIR, else ./config
#   OMS_CHANNELS  the binary to run (default: oms-channels on PATH)
#   JQ            the jq to parse the JSON with (default: jq); without it the
#                 script falls back to grep
#
# Exit status: 0 clean, 1 findings, 2 unreadable files or bad usage (the same
# as oms-channels validate).
#
# Plain POSIX sh; also runs under bash.
set -eu

config_dir=${1:-${OMS_CHANNELS_CONFIG_DIR:-config}}
bin=${OMS_CHANNELS:-oms-channels}
jq_bin=${JQ:-jq}

if [ ! -d "$config_dir/accounts" ]; then
    echo "ci-validate: \`$config_dir\` has no accounts/ dir; pass the config dir as the first argument" >&2
    exit 2
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
trap 'exit 2' INT TERM

status=0
"$bin" --config-dir "$config_dir" validate --all-accounts --strict --offline --json >"$out" || status=$?

if [ ! -s "$out" ]; then
    # No document at all: oms-channels already said why on stderr.
    echo "ci-validate: \`$bin validate\` failed (exit $status) and printed no report" >&2
    [ "$status" -ne 0 ] || status=2
    exit "$status"
fi

if command -v "$jq_bin" >/dev/null 2>&1; then
    findings=$("$jq_bin" '.findings | length' "$out")
    "$jq_bin" -r '
        (.findings[] | "\(.account)\(if .channel then "/" + .channel else "" end): \(.severity)[\(.code)]: \(.message)"),
        (.accounts[] | select(.error) | "\(.account): cannot validate: \(.error)")
    ' "$out"
else
    # The JSON is pretty-printed: each finding has its "code" and "message" on
    # lines of their own.
    findings=$(grep -c '"code": ' "$out" || true)
    grep -e '"code": ' -e '"message": ' -e '"error": "' "$out" | sed 's/^ *//' || true
fi

if [ "$status" -eq 0 ] && [ "$findings" -gt 0 ]; then
    # Cannot happen with --strict, but never let findings pass silently.
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "ci-validate: all accounts in \`$config_dir\` are clean"
else
    echo "ci-validate: $findings finding(s) in \`$config_dir\` (exit $status)" >&2
fi
exit "$status"
