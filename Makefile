# Every target creates the local virtualenv when it is missing, so a fresh clone needs nothing else.
VENV   ?= .venv
PY     := $(VENV)/bin/python
GW     := $(VENV)/bin/gatewarden
PYTHON ?= python3
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: venv demo test lint eval bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m gatewarden.demo --out $(DEMO)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

eval: $(STAMP)
	$(PY) -m gatewarden.demo --out $(DEMO) --eval-only

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(DEMO) bench/work .pytest_cache
