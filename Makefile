# The two set-up commands of the README, plus the benchmark.
VENV ?= .venv
PYTHON ?= python3

.PHONY: demo test bench

demo:
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	$(VENV)/bin/flowcap demo

test:
	bash scripts/test.sh

bench:
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	$(VENV)/bin/python benchmarks/bench_import_measures.py
