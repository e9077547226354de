#!/usr/bin/env bash
# Clone this repository's committed main into a temporary folder, run the README's two
# commands there with a new .venv, and report how long each took.  Uncommitted changes are
# not in the clone: that is the point.
#
#   tools/fresh_clone_check.sh [PYTHON]     (PYTHON defaults to python3)
set -euo pipefail

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
python=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git clone --quiet "$repo" "$work/course"
cd "$work/course"
echo "fresh clone of $(git rev-parse --short HEAD) in $work/course, with $($python --version)"

timed() {
    local start end
    start=$(date +%s)
    if ! "$@" > "$work/$1-$2.log" 2>&1; then
        tail -n 40 "$work/$1-$2.log"
        echo "FAILED: $*" >&2
        exit 1
    fi
    end=$(date +%s)
    echo "$* : $((end - start)) s"
}

timed make course PYTHON="$python"
timed make test PYTHON="$python"
grep -E "passed|failed" "$work/make-test.log" | tail -n 1
if [ -n "$(git status --porcelain)" ]; then
    echo "the two commands left the clone dirty:" >&2
    git status --porcelain >&2
    exit 1
fi
echo "the clone is clean after both commands"
