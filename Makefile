# Two commands on a fresh clone: `make demo` and `make test` (each creates and fills .venv if missing).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-slow test-all bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Profile this CPU on VGG-16, plan it on DistrEdge's group DB (2 Xavier + 2 Nano, derived) at
# 300 Mbps with the equal split, and print the simulated latency breakdown.
demo: $(STAMP)
	SPLITGYM_HOME=runs/demo $(VENV)/bin/splitgym profile --model vgg16 --quiet
	SPLITGYM_HOME=runs/demo $(VENV)/bin/splitgym plan equal --model vgg16 --devices DB --bandwidth 300 \
	  --partition stages -o runs/demo/plan.json
	SPLITGYM_HOME=runs/demo $(VENV)/bin/splitgym simulate runs/demo/plan.json

test: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow and not gpu"

test-slow: $(STAMP)
	$(VENV)/bin/pytest -q -m "slow and not gpu"

test-all: test test-slow

bench: $(STAMP)
	$(PY) -m splitgym.experiments.bench_simulator

lint: $(STAMP)
	$(VENV)/bin/ruff check costmodels agents envs executors experiments tests

clean:
	rm -rf runs .pytest_cache .hypothesis
