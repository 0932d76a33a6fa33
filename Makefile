# Two entry points: `make demo` (the service's main job on the embedded default) and
# `make test` (everything CI checks). Both set the machine up first.
.PHONY: demo test test-shifted-clock bootstrap codegen lint

VENV := .venv/bin

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/python -m service.demo

codegen: bootstrap
	$(VENV)/python scripts/codegen.py

lint: bootstrap
	$(VENV)/ruff check service clients simulators gateway tests bench scripts
	$(VENV)/ruff format --check service clients simulators gateway tests bench scripts
	$(VENV)/mypy

# Two workers (pytest-xdist): most tests wait on processes, sockets and the database, so two
# finish the suite in under half the time of one, even on two cores. Each worker has its
# own PostgreSQL database (tests/conftest.py), temporary files and ports.
TEST_WORKERS ?= 2

test:
	@scripts/bootstrap.sh --with-postgres --with-browser
	$(VENV)/ruff check service clients simulators gateway tests bench scripts
	$(VENV)/ruff format --check service clients simulators gateway tests bench scripts
	$(VENV)/mypy
	$(VENV)/pytest -q -n $(TEST_WORKERS)

# The whole suite again with every clock of the run a year ahead (libfaketime): no test
# may depend on the date it runs on. CI runs it after `make test`.
test-shifted-clock:
	@scripts/bootstrap.sh --with-postgres --with-faketime --with-browser
	faketime -f "+365d" $(VENV)/pytest -q -n $(TEST_WORKERS) -p no:cacheprovider
