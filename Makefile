# The two commands of the README: `make demo` and `make test`. Both go
# through `make setup`, which is idempotent: a second run reuses what is there.

VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
GATES := $(VENV)/bin/gates
# Parallel self-tests: 2 workers on the 2-core machines this runs on.
WORKERS ?= 2

.PHONY: setup demo test lint bench down clean

setup:
	@bash scripts/setup.sh

# The demo's alerts and release notifications go to the staging app's Slack-webhook stand-in
# (examples/dashboard); --approve signs production off (the checklist must still be complete).
demo: setup
	GATES_ALERT_WEBHOOK=$${GATES_ALERT_WEBHOOK:-http://127.0.0.1:8081/api/alerts} $(GATES) deploy --first-release --approve
	@echo "Evidence: $$($(GATES) report)"
	@echo "The demo keeps running: 'make down' (or '.venv/bin/gates down') stops it."

# Lint and the import contracts first, then the fast tier (pure tests, seconds), then the integration
# tier (real Postgres, HAProxy, Chromium, Node): the test runner's summary is the last thing printed,
# after the 30 slowest tests (where the suite's time goes).
test: setup
	$(VENV)/bin/ruff check gates tests examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PYTEST) tests/fast -q -p no:xdist
	$(PYTEST) tests/selftests -n $(WORKERS) --dist loadgroup --durations=30

lint: setup
	$(VENV)/bin/ruff check gates tests examples
	$(VENV)/bin/ruff format --check gates
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Speed targets live here, never in tests: prints a table, writes reports/bench.json.
bench: setup
	$(PY) -m gates.bench $(if $(QUICK),--quick)

down:
	@test -x $(GATES) && $(GATES) down || true

clean: down
	@# The demo's builds live outside the repository (gates/platforms/local/builds.py): removed with the rest.
	-@test -x $(PY) && $(PY) -c 'import shutil; from gates.config import load; from gates.platforms.local.builds import builds_dir; shutil.rmtree(builds_dir(load()), ignore_errors=True)'
	rm -rf $(VENV) node_modules .gates
