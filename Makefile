# The two commands of the README. Each bootstraps .venv (Python 3.11) on first use
# and again whenever requirements.txt or pyproject.toml change.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PARAMS ?= cpu real
# test workers: each test file runs whole on one worker (its fixtures stay shared)
TEST_WORKERS ?= 2

.PHONY: report test venv clean gpu-check

report: $(STAMP)
	$(VENV)/bin/genobench report --params $(PARAMS)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "setuptools>=64"
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	touch $(STAMP)

clean:
	rm -rf reports/runs reports/site reports/assets reports/_quarto.yml reports/index.qmd

# Every CUDA path in one command (see README, "GPU check"); tables go to benchmarks/gpu_check/
gpu-check:
	scripts/gpu-check $(OUT)
