# Two commands from a fresh clone: `make run` starts the platform, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PLUGINS := $(wildcard plugins/*/setup.py)

.PHONY: venv run test lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $@

run: venv
	$(PY) scripts/run_all.py

test: venv
	$(PY) -m ruff check .
	$(PY) -m pytest
	$(PY) scripts/fuzz/run_fuzz.py --seconds 30

lint: venv
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .run build *.egg-info
