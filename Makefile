# The commands the README gives. Each target builds its own environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test

.PHONY: test reproduce derive lint clean-env bench

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade-strategy only-if-needed -c constraints.txt -e '.[test]'
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

derive: $(STAMP)
	$(BIN)/normtheory derive --out derivations

reproduce: derive
	$(BIN)/python figures/make_all.py
	$(BIN)/normtheory verify --report figures/REPORT.md

lint: $(STAMP)
	$(BIN)/ruff check src tests derivations simulations figures benchmarks
	$(BIN)/ruff format --check src tests derivations simulations figures benchmarks

clean-env:
	rm -rf $(VENV)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python benchmarks/run.py
