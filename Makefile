# Two entry points: `make demo` and `make test`. Each sets up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip --disable-pip-version-check

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: install demo test test-fast lint typecheck layers unit benchmark silence ui-check clean constraints latency

# pytest-xdist (PYTEST_WORKERS=0 runs in this process). A file's tests stay on one worker, so
# module-scoped worlds and servers are set up once. `make test` runs one worker more than cores:
# its scenarios wait on the sandbox's timers and on subprocesses about a quarter of the time;
# `make test-fast`, all CPU, one per core.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')
PYTEST_XDIST   := -n $(PYTEST_WORKERS) --dist loadfile
FAST_WORKERS   ?= auto

# Installs take the versions pinned in constraints.txt (reproducible: pip resolves nothing) from
# a wheelhouse outside the clone (no index request per package: a fresh clone installs from disk);
# the first install fills it from the index.
WHEELS  ?= $(HOME)/.cache/kubeflow-alb/wheels
OFFLINE := $(PIP) install --quiet --no-index --find-links $(WHEELS) -c constraints.txt -e '.[sandbox,dev]'
$(STAMP): pyproject.toml setup.py constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	@$(OFFLINE) 2>/dev/null || { echo "Filling the wheelhouse $(WHEELS) (once)"; \
	  $(PIP) wheel --quiet -c constraints.txt -w $(WHEELS) '.[sandbox,dev]' 'setuptools>=77' && $(OFFLINE); }
	@touch $(STAMP)

# Resolve the dependencies anew (the newest pyproject.toml allows) in a scratch venv and pin
# them in constraints.txt; commit the result with what it changes.
constraints:
	rm -rf .venv-resolve && $(PYTHON) -m venv .venv-resolve
	.venv-resolve/bin/python -m pip install --quiet --disable-pip-version-check -e '.[sandbox,dev]'
	{ sed -n '/^#/p' constraints.txt; .venv-resolve/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-resolve

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/kfalb demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

# The browser check has its own target (ui-check): it needs chromium and minutes of its own.
unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_XDIST) -m "not browser" --durations=15

test: lint typecheck layers unit

# The development loop: lint, types, layers, then the pure and unit tiers only: their folders
# and the files elsewhere marked so (collecting every scenario module costs each worker seconds).
FAST_TESTS := tests/core tests/tasks $(shell grep -rlE --include='test_*.py' \
                '^pytestmark = pytest.mark.(unit|pure)$$' tests/flows tests/kfalb tests/sandbox)
test-fast: lint typecheck layers
	$(BIN)/pytest $(FAST_TESTS) -m "pure or unit" -q -n $(FAST_WORKERS) --dist loadfile

benchmark: $(STAMP)
	$(BIN)/python benchmarks/setup_critical_path.py

# Each kfalb command's time to its first line and in total (benchmarks/README.md).
latency: $(STAMP)
	$(BIN)/python benchmarks/cli_latency.py

# `kfalb setup` on a slow sandbox (ACM 90 s, ALB 60 s): never silent over 35 s (minutes).
silence: $(STAMP)
	$(BIN)/python benchmarks/silence.py

# The Prefect UI in headless Chromium: run, artifact and block pages (installs Debian's chromium).
UI_SCREENSHOTS ?= ui-screenshots
ui-check: $(STAMP)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "ui-check needs Debian's chromium; installing it needs root: sudo apt-get install -y chromium" >&2; exit 1; \
	  fi; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }
	$(BIN)/python benchmarks/ui_check.py --out $(UI_SCREENSHOTS)
	@echo "screenshots: $(abspath $(UI_SCREENSHOTS))"

clean:
	rm -rf $(VENV) .venv-resolve .kfalb-sandbox .mypy_cache .ruff_cache
