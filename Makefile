# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
WORKERS ?= 2
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test install serve migrate seed translations lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall only when the dependency list changes.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) demo seed
	$(FLASK) search sync

run: seed
	@echo "青岛技术转移服务平台: http://127.0.0.1:$(PORT)"
	@# The background worker (search index, match scans, saved-search alerts) lives as long as the server.
	$(FLASK) jobs work & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --workers $(WORKERS) --bind 127.0.0.1:$(PORT) --access-logfile - wsgi:app

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 -o marketplace/translations/messages.pot --no-location .
	$(BIN)/pybabel update -i marketplace/translations/messages.pot -d marketplace/translations -l en --no-fuzzy-matching
	$(BIN)/pybabel compile -d marketplace/translations

lint: install
	$(BIN)/ruff check marketplace search config tests benchmarks
	$(BIN)/ruff format --check --quiet .

clean:
	rm -rf $(VENV) instance/*.db
