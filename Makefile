# Quickstart: `make book` builds the HTML, `make test` runs the tests.
# Both create .venv (Python 3.11) and install requirements.txt on first use.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
# The book's kernels run `python`: put the venv first on PATH.
RUN    := PATH="$(BIN):$$PATH" TML_QUIET=1
# The book always builds on CPU, so that a GPU (or its kernels) cannot change a
# number the prose states; the claims asserted in hidden cells are checked on CPU.
BOOK   := $(RUN) TML_DEVICE=cpu

.PHONY: book book-all test release clean help

help:
	@echo "make book   - build the HTML book into _build/html (executes every page)"
	@echo "make test   - run the test suite"
	@echo "make clean  - remove _build"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-cache-dir -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Jupyter-cache keys pages on their code cells only: an edit to tmlbook/ would
# not re-execute a page.  Drop the cache whenever tmlbook or the pins change.
book: $(STAMP)
	@h=$$(cat requirements.txt $$(find tmlbook -name '*.py' -o -name '*.pt' | sort) | sha256sum | cut -c1-16); \
	if [ "$$(cat _build/.tmlbook-hash 2>/dev/null)" != "$$h" ]; then rm -rf _build/.jupyter_cache; fi; \
	$(BOOK) $(BIN)/jupyter-book build . -W -n --keep-going && \
	$(RUN) $(BIN)/python -m autograder publish --out _build/html/exercises && \
	echo "$$h" > _build/.tmlbook-hash
	@echo "Open _build/html/index.html"

# The full, cold build that CI and the tests use.
book-all: $(STAMP)
	$(BOOK) $(BIN)/jupyter-book build . --all -W -n --keep-going

test: $(STAMP)
	$(RUN) $(BIN)/python -m pytest -q -ra --durations=15 -n 2 --dist loadgroup

clean:
	rm -rf _build
