# The README's two commands: `make dev` runs the system locally, `make test` installs what the
# tests need and runs them all (CI runs `make test` through .ci/run).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pytest-xdist workers: most slow tests wait on real processes (Redis, Celery, HTTP, podman), so
# more workers than cores pays; the README ("make test") has the timings.
PYTEST_WORKERS ?= 6

.PHONY: dev test system-packages lint pytest bench-smoke clean

dev: $(VENV)/.dev-installed
	$(BIN)/python scripts/dev.py $(if $(FLOWER),--flower)

test: system-packages $(VENV)/.test-installed lint bench-smoke pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.dev-installed: $(BIN)/python requirements-dev.txt services/api/requirements.txt services/worker/requirements.txt
	@echo "==> installing the services and honcho into $(VENV)"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.dev-installed requirements-test.txt requirements.txt
	@echo "==> installing test, infra and policy dependencies into $(VENV)"
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

# redis-server and the podman stack; the tests also install what is missing, or fail loudly.
system-packages:
	@bash scripts/install-system-packages

# mypy runs per area, each with its own settings: infra/ modules import each other as top-level
# modules (as Pulumi's language host runs them), the services each have a pyproject.toml.
lint: $(VENV)/.test-installed
	@echo "==> ruff, mypy, hadolint"
	$(BIN)/ruff check .
	$(BIN)/mypy --strict infra
	$(BIN)/mypy --strict policy
	$(BIN)/mypy --strict cost
	$(BIN)/mypy --strict bootstrap
	cd services/api && $(abspath $(BIN))/mypy
	cd services/worker && $(abspath $(BIN))/mypy worker
	$(BIN)/python scripts/hadolint.py

pytest: $(VENV)/.test-installed
	@echo "==> pytest"
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15

bench-smoke: $(VENV)/.test-installed
	@echo "==> benchmarks, smoke run (figures are in docs/benchmarks.md)"
	$(BIN)/python -m benchmarks all --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
