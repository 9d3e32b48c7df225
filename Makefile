# reno_exp workflow. `make demo` and `make test` install what they need on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# tests and smoke runs never touch the network: the hub is off, W&B offline, prompts from the mirror
OFFLINE := HF_HUB_OFFLINE=1 WANDB_MODE=offline RENO_EXP_DATA=$${RENO_EXP_DATA:-$(abspath ../shared/benchmarks)}

.PHONY: install demo test test-fast lint bench gpu-check clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
	# the original reward packages, for parity tests only: their pins clash with the stack, so no deps
	$(BIN)/pip install -q --disable-pip-version-check --no-deps image-reward==1.5 hpsv2==1.2.0 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/python -c "import reno_exp, torch, diffusers, hydra"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install reno_exp with dev extras (idempotent)

demo: $(STAMP)  ## the embedded default: tiny random model + colour criterion, offline, CPU
	$(OFFLINE) $(BIN)/python -m reno_exp model=tiny reward=color $(ARGS)

test: $(STAMP)  ## the whole test suite, slow tests included (offline, CPU)
	$(OFFLINE) $(BIN)/python -m pytest -q $(ARGS)

test-fast: $(STAMP)  ## the tests not marked slow
	$(OFFLINE) $(BIN)/python -m pytest -q -m "not slow" $(ARGS)

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check reno_exp tests

bench: $(STAMP)  ## s/iterate and app overhead vs a bare loop; ARGS: overrides, --batch-sizes, --memory, --flops, --plan
	$(OFFLINE) $(BIN)/python -m reno_exp.bench $(ARGS)

gpu-check: $(STAMP)  ## on a GPU: every generator + reward=all, batch 1 and auto, eager and compiled (Markdown, < 8 min)
	$(OFFLINE) $(BIN)/python -m reno_exp.bench.gpu_check $(ARGS)

clean:  ## remove run outputs (not the venv)
	rm -rf outputs multirun
