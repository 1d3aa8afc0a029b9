# Sketchforge build commands. Every target that runs code sets up first;
# packaging/setup.sh does nothing (in well under a second) when all is in place.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup test run bench screenshot clean

setup:
	bash packaging/setup.sh

# The import contracts, the linter and the type checker (the typed core) run first; model and
# learning tests then run with no Qt plugin loaded (and fail if anything imports Qt);
# widget tests (tests/gui) run offscreen; the tests that need OpenGL start their own Xvfb.
test: export QT_QPA_PLATFORM := offscreen
test: export PYDEVD_DISABLE_FILE_VALIDATION := 1
test: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -p no:pytest-qt --ignore=tests/gui $(PYTEST_ARGS)
	@if [ -d tests/gui ]; then $(PY) -m pytest tests/gui $(PYTEST_ARGS); fi

run: setup
	@if [ -n "$${DISPLAY:-}" ]; then \
		$(VENV)/bin/sketchforge; \
	else \
		echo "No display found: running the headless demo instead (set DISPLAY to start the window)"; \
		mkdir -p out; \
		$(VENV)/bin/sketchforge demo --out out/demo.step; \
	fi

# A real screenshot of the window (demo model + strokes) under Xvfb, for the README.
screenshot: setup
	bash packaging/screenshot.sh

# Each benchmark writes its figures as JSON under benchmarks/results/.
bench: setup
	@shopt -s nullglob; benches=(benchmarks/bench_*.py); \
	if [ $${#benches[@]} -eq 0 ]; then echo "No benchmarks/bench_*.py found."; exit 0; fi; \
	for b in "$${benches[@]}"; do \
		echo "== $$b"; \
		$(PY) "$$b"; \
	done

# Caches and build leftovers only: .venv, node_modules, out/ and results stay.
clean:
	find . -path ./$(VENV) -prune -o -path ./packaging/node/node_modules -prune -o \
		-name __pycache__ -type d -print -exec rm -rf {} +
	rm -rf .pytest_cache .hypothesis .import_linter_cache build *.egg-info
