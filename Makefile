# Entry points for developers and CI. The real work is in scripts/ so it also runs without make.
# `make test` is the test command (CI runs it through .ci/run).

VENV_BIN := $(CURDIR)/.venv/bin
# Tools run from the venv (mypy needs its Django; lint-imports needs the project importable).
IN_VENV := PATH="$(VENV_BIN):$$PATH"

.PHONY: install run test lint fmt clean

## install: system packages, .venv and Python dependencies (idempotent, ~1 s when done)
install:
	scripts/install

## run: the whole platform on http://127.0.0.1:8000 (Redis, web, Celery worker and beat)
run:
	scripts/run

## test: lint, types, import contracts and pytest against throwaway PostgreSQL and Redis
##       (pytest options: make test ARGS="-k chat -x")
test:
	scripts/test $(ARGS)

## lint: the static checks of `make test`, without starting services
lint: install
	$(IN_VENV) ruff check .
	$(IN_VENV) ruff format --check .
	$(IN_VENV) mypy .
	$(IN_VENV) lint-imports

## fmt: format the code and apply ruff's automatic fixes
fmt: install
	$(IN_VENV) ruff format .
	$(IN_VENV) ruff check --fix .

## clean: remove runtime data and the virtualenv
clean:
	rm -rf var .venv
