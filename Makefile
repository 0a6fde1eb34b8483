# Two commands do everything: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip

.PHONY: setup browser test book book-student clean-book benchmarks lab

# A virtual environment with the toolkit (editable), the book and the test tools.
# torch is pinned to 2.13.0 by constraints.txt (pip takes a local CPU wheel where the machine has one).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[book,dev]'
	$(BIN)/python -m toolkit.datasets fetch
	touch $(STAMP)

setup: $(STAMP) browser

# Debian's chromium for the browser test of the book (installed when run as root on Debian).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "note: install Debian's chromium to run the browser test of the book"; fi; }

test: setup
	$(BIN)/python -m pytest

book: setup
	$(BIN)/python book/build.py html

book-student: setup
	$(BIN)/python book/build.py student

benchmarks: setup
	$(BIN)/python benchmarks/run_all.py

# JupyterLab on the chapters: .jupyter/ (added to the config path) makes a double-click on a
# chapter open it as a notebook (Jupytext); notebooks/jupytext.toml keeps a save byte-identical.
# Extra options: make lab LAB_ARGS='--no-browser --port 8889' (as root: LAB_ARGS=--allow-root).
lab: setup
	JUPYTER_CONFIG_PATH=$(CURDIR)/.jupyter $(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

clean-book:
	rm -rf book/_build
