# The course's two commands are `make course` and `make test` (see README.md).
# Everything runs inside .venv, created with the system python3 on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PYTEST_NOTEBOOK_OPTS := --nbval --nbval-current-env \
	--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600

.PHONY: help course test lab figures bench clean venv

help:
	@echo "make course   set up .venv, execute every notebook in place, regenerate figures/"
	@echo "make test     the whole suite: unit tests, doctests, strict nbval on every notebook"
	@echo "make lab      open JupyterLab on notebooks/"
	@echo "make figures  regenerate figures/ without touching the notebooks"
	@echo "make bench    run every benchmark script and print one table"

venv: $(STAMP)

# Reinstall whenever the package metadata or the pins change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--constraint constraints.txt --editable '.[course,test]'
	@touch $(STAMP)

course: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py --inplace --figures figures $(NOTEBOOKS)
	@echo
	@echo "The course is ready. Open it with:  make lab"
	@echo "(or: $(BIN)/jupyter lab notebooks/00_why_initialization_matters.ipynb)"

figures: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py --figures figures $(NOTEBOOKS)

test: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider tests kaiming_lib --doctest-modules \
		$(PYTEST_NOTEBOOK_OPTS) $(NOTEBOOKS)

# JupyterLab refuses to start as root without --allow-root (a container, a CI shell).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/00_why_initialization_matters.ipynb

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
