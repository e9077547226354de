# The course's two commands are `make course` and `make test` (see README.md).
# Everything runs inside .venv, created with the system python3 on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PYTEST_NOTEBOOK_OPTS := --nbval --nbval-current-env \
	--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600
# The tests use every core (up to 4): pytest-xdist gives each worker whole files, so a
# notebook's cells stay in order in one kernel.  Each process keeps to one BLAS thread:
# two kernels with a thread per core each would fight over the cores and run several
# times slower.  The notebooks print the same text at any thread count (nbval checks it
# against outputs made with all threads).
PYTEST_PARALLEL_OPTS := -n auto --maxprocesses=4 --dist loadfile
ONE_THREAD := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

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
	$(ONE_THREAD) $(BIN)/python -m pytest -p no:cacheprovider -rs $(PYTEST_PARALLEL_OPTS) \
		tests kaiming_lib --doctest-modules $(PYTEST_NOTEBOOK_OPTS) $(NOTEBOOKS)

# JupyterLab refuses to start as root without --allow-root (a container, a CI shell).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/00_why_initialization_matters.ipynb

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
