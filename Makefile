# The two commands of the README: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint typecheck unit deps clean screenshots bench

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

## run: install, start an embedded dev agent and open the console on it
run: $(STAMP)
	$(VENV)/bin/nomadtui --dev

## deps: Docker engine (Debian docker.io, dockerd --ip 127.0.0.1) and the local test image
deps:
	@scripts/test-deps.sh || { \
	  echo "test-deps: Docker is not available; Docker tests will $${CI:+fail}$${CI:-be skipped}"; }

lint: $(STAMP)
	$(VENV)/bin/ruff check controlplane nomadtui tests bench scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy controlplane nomadtui

unit: $(STAMP)
	$(VENV)/bin/pytest

## screenshots: SVG pictures of the console's views (fixed fake cluster) in screenshots/
screenshots: $(STAMP)
	$(PY) scripts/screenshots.py

## bench: the quick variant of the issue-8 benchmarks in bench/ (figures, not tests; ~1 min)
BENCH_QUICK := scheduler raft api cluster e2e
bench: $(STAMP) deps
	@for b in $(BENCH_QUICK); do \
	  echo "== bench/$$b.py --quick"; \
	  $(PY) bench/$$b.py --quick || exit 1; \
	done

## test: everything CI runs
test: $(STAMP) deps lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
