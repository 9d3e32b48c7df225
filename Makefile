# reno_exp workflow. `make demo` and `make test` install what they need on first use.
SHELL   := /bin/bash
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# tests and smoke runs never touch the network: the hub is off, W&B offline, prompts from the mirror
OFFLINE := HF_HUB_OFFLINE=1 WANDB_MODE=offline RENO_EXP_DATA=$${RENO_EXP_DATA:-$(abspath ../shared/benchmarks)}

.PHONY: install demo test test-fast lint bench gpu-check device-kit device-command device-rehearsal clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# pip's own output and progress bars (stdout stays the terminal); only the noise of a missing
# find-links directory is dropped from stderr, and a failing pip stops make
PIP     := $(BIN)/pip install --disable-pip-version-check --progress-bar on
QUIET   := 2> >(grep -v "is ignored: it is neither" >&2)

$(STAMP): pyproject.toml
	@echo "== installing reno_exp into $(VENV): about 6.3 GB; about 2 min from a local package cache, longer when downloading (torch and its CUDA libraries are most of it) =="
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(PIP) -e '.[dev]' $(QUIET)
	@echo "== the original reward packages, for parity tests only (their pins clash with the stack: no deps) =="
	$(PIP) --no-deps image-reward==1.5 hpsv2==1.2.0 $(QUIET)
	$(BIN)/python -c "import reno_exp, torch, diffusers, hydra"
	touch $(STAMP)
	@echo "== installed: $$(du -sh $(VENV) | cut -f1) in $(VENV) =="

install: $(STAMP)  ## create .venv and install reno_exp with dev extras (idempotent)

demo: $(STAMP)  ## the embedded default: tiny random model + colour criterion, offline, CPU
	$(OFFLINE) $(BIN)/python -m reno_exp model=tiny reward=color $(ARGS)

# one worker per core, at most 4 (each holds torch and the tiny models); a file's tests share a worker, so a
# module's fixtures (the SLURM cluster, the report's browser) are set up once
JOBS    ?= $(shell $(PY) -c 'import os; print(min(4, len(os.sched_getaffinity(0))))')

test: $(STAMP)  ## the whole test suite, slow tests included (offline, CPU; JOBS=0: in one process)
	$(OFFLINE) $(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile $(ARGS)

test-fast: $(STAMP)  ## the tests not marked slow
	$(OFFLINE) $(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile -m "not slow" $(ARGS)

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check reno_exp tests

bench: $(STAMP)  ## s/iterate and app overhead vs a bare loop; ARGS: overrides, --batch-sizes, --memory, --flops, --plan
	$(OFFLINE) $(BIN)/python -m reno_exp.bench $(ARGS)

gpu-check: $(STAMP)  ## on a GPU: every generator + reward=all, batch 1 and auto, eager and compiled (Markdown, < 8 min)
	$(OFFLINE) $(BIN)/python -m reno_exp.bench.gpu_check $(ARGS)

# The lent GPU machine has no network and no make install: the kit travels to it (README, "On a lent GPU")
device-kit: $(STAMP)  ## .whl/: the wheels gpu-check needs beyond the GPU machine's image, + the cost model's estimates
	$(BIN)/python scripts/device_kit.py kit
	$(OFFLINE) $(BIN)/python -m reno_exp.bench.gpu_check --estimate --estimates .whl/gpu_check_estimates.json
	@echo "== kit: $$(du -sh .whl | cut -f1) in .whl/ =="

device-command:  ## print the one command to give the device tool's run (carry .whl)
	@$(PY) scripts/device_kit.py command

device-rehearsal:  ## the device command here: a venv of the GPU image's packages + the kit, offline, on the CPU
	$(PY) scripts/device_kit.py rehearse $(if $(FRESH),--fresh)

clean:  ## remove run outputs (not the venv)
	rm -rf outputs multirun
