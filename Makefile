# Blox developer entry points. Every target creates/updates the virtual environment first.
#   make run         set up and run the default (quick) preset: snakemake --cores all
#   make test        set up and run the test suite (what CI runs)
#   make bench       performance benchmarks (tests/benchmarks/, not part of `make test`)
#   make compile     bytecode of the Blox sources (test and run do it first)
#   make lint        ruff (check + format), snakefmt and `snakemake --lint` on the default preset
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PACKAGES = packages/blox-space packages/blox-train packages/blox-predict packages/blox-search packages/blox-hw
STAMP   = $(VENV)/.installed

.PHONY: setup compile run test bench lint clean

$(STAMP): $(foreach p,$(PACKAGES),$(p)/pyproject.toml) requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(foreach p,$(PACKAGES),-e $(p)) -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

# Bytecode of the Blox sources, refreshed for what changed (about a second). Where the machine sets
# PYTHONDONTWRITEBYTECODE, nothing else writes it, and every workflow job (a fresh Python process)
# would compile the packages again: ~0.7 s a job, ~25 s of the ci preset's 68 jobs on 2 cores.
compile: setup
	$(BIN)/python -m compileall -q $(foreach p,$(PACKAGES),$(p)/src) > /dev/null

run: setup compile
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores all $(SNAKEMAKE_ARGS)

test: setup compile
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest tests/benchmarks -s -o python_files='bench_*.py' $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check packages tests workflow/scripts
	$(BIN)/ruff format --check packages tests workflow/scripts
	$(BIN)/snakefmt --check workflow
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --lint  # blox-hw on PATH: the start checks ask it

clean:  # workflow outputs; keeps benchmarks/results.jsonl from `make bench`
	rm -rf results logs .snakemake
	find benchmarks -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} + 2>/dev/null || true
