# The README's two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ADDR ?= 127.0.0.1:8000
ACCOUNTS ?= 5000

.PHONY: run test lint format install bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Serve the app on SQLite with the demo program loaded (prints the admin login).
run: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py demo --accounts $(ACCOUNTS)
	$(BIN)/python manage.py runserver $(ADDR)

## The whole test suite, on whatever DATABASE_URL says (SQLite when unset).
test: $(BIN)/.installed
	$(BIN)/python manage.py makemigrations --check --dry-run -v0
	$(BIN)/pytest -n 2 --dist loadfile

## Format, lint and type checks (ruff and mypy, configured in pyproject.toml); CI runs it first.
lint: $(BIN)/.installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Rewrite the code in the project's format and apply ruff's safe fixes.
format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
