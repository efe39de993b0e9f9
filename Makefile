# Two commands from a fresh clone: `make run` starts the platform, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PLUGINS := $(wildcard plugins/*/setup.py)

.PHONY: venv run test lint docs typecheck clean

venv: $(VENV)/.installed

# setuptools notes every non-src-layout editable install ("Editable installation."): that is
# information, not a packaging problem, so it is filtered to leave real warnings visible.
$(VENV)/.installed: setup.py pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" \
	  $(PY) -m pip install -q -e ".[test]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $@

# `make run PEEK_LOG_LEVEL=DEBUG` for everything; INFO by default.
PEEK_LOG_LEVEL ?= INFO

run: venv
	PEEK_LOG_LEVEL=$(PEEK_LOG_LEVEL) $(PY) scripts/run_all.py

test: venv typecheck
	$(PY) -m ruff check .
	$(PY) -m pytest
	$(PY) scripts/fuzz/run_fuzz.py --seconds 30
	$(MAKE) docs

# The documentation site in docs/_build/html; any warning fails the build.
docs: venv
	$(PY) -m sphinx -W --keep-going -b html -q docs docs/_build/html

# The browser modules' JSDoc types, checked by TypeScript (pinned in package-lock.json,
# installed into the gitignored node_modules/). Development only: the platform needs no Node.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

typecheck: node_modules/.installed
	node_modules/.bin/tsc -p jsconfig.json
	node_modules/.bin/tsc -p jsconfig.sw.json

lint: venv
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .run build *.egg-info docs/_build docs/_generated node_modules
