# make run: set up everything and serve the app on http://127.0.0.1:5000 (SQLite in instance/),
#           with both task consumers beside it: urgent-alert e-mails, and dry runs of the rules.
# make test: install the test dependencies (system packages too) and run the whole suite
#            on SQLite and on a throwaway PostgreSQL server.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The Nu HTML checker that the browser tests validate every page with (needs java: scripts/system-deps.sh).
VNU_JAR := node_modules/vnu-jar/build/dist/vnu.jar

.PHONY: run test install install-test system-deps db clean

run: install db
	export SCREENING_ENVIRONMENT=development; \
	$(BIN)/huey_consumer screening.tasks.alerts --workers 2 & alerts=$$!; \
	$(BIN)/huey_consumer screening.tasks.huey --workers 2 & work=$$!; \
	trap 'kill $$alerts $$work 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask --app screening run

db: install
	$(BIN)/flask --app screening init-db
	$(BIN)/flask --app screening rules activate

test: system-deps install-test
	scripts/with-postgres.sh $(BIN)/pytest --numprocesses=auto --dist loadgroup --durations=30

install: $(BIN)/.installed

install-test: $(BIN)/.installed-test $(VNU_JAR)

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VNU_JAR):
	npm install --quiet --no-audit --no-fund --no-save --no-package-lock --ignore-scripts --prefix . vnu-jar@26.9.27

system-deps:
	scripts/system-deps.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis node_modules
