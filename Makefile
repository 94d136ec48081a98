# The set-up commands of the README (demo, serve, test), plus the benchmark.
VENV ?= .venv
PYTHON ?= python3

.PHONY: demo serve test bench

demo:
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	$(VENV)/bin/flowcap demo

# The web app on the bundled example, at http://127.0.0.1:8000/ (the demo login is printed).
serve:
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	$(VENV)/bin/flowcap serve --demo

test:
	bash scripts/test.sh

bench:
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	$(VENV)/bin/python benchmarks/bench_import_measures.py
