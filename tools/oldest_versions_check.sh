#!/usr/bin/env bash
# Install the committed course with its oldest supported NumPy, Matplotlib and ipywidgets
# (tools/constraints-oldest.txt) into a temporary venv and run the unit tests and
# doctests there.  Notebooks are not executed: their stored outputs belong to the pins in
# constraints.txt.
#
#   tools/oldest_versions_check.sh [PYTHON]     (PYTHON defaults to python3.10, else python3)
set -euo pipefail

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
python=${1:-$(command -v python3.10 || command -v python3)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git clone --quiet "$repo" "$work/course"
cd "$work/course"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --constraint tools/constraints-oldest.txt --editable '.[test]'
"$work/venv/bin/python" -c 'import sys, numpy, matplotlib, ipywidgets
print(f"Python {sys.version.split()[0]}, NumPy {numpy.__version__}, "
      f"Matplotlib {matplotlib.__version__}, ipywidgets {ipywidgets.__version__}")'
start=$(date +%s)
"$work/venv/bin/python" -m pytest -p no:cacheprovider -q tests kaiming_lib --doctest-modules \
    --ignore=tests/test_browser.py --ignore=tests/test_determinism.py
echo "unit tests and doctests: $(( $(date +%s) - start )) s"
