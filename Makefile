# Two commands on a fresh machine: `make demo` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench venv system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The installer and, beside it, the lab (its own distribution in lab/: the demo and the tests use it).
$(STAMP): $(BIN)/python pyproject.toml lab/pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]' -e ./lab
	touch $(STAMP)

venv: $(STAMP)

# The tests start a real OpenSSH sshd on loopback and drive the wizard in tmux.
system-deps:
	@missing=""; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# The wizard against the lab (a simulated cluster on this machine). Without a terminal,
# the same install runs headless.
demo: venv
	@if [ -t 0 ] && [ -t 1 ]; then \
	  $(BIN)/thinkube-tui --demo --lab-speed 5; \
	else \
	  $(BIN)/thinkube-tui --demo --answers examples/answers-full.yaml --lab-speed 20; \
	fi

# Static checks: ruff (lint and format) everywhere, mypy strict on the core.
lint: venv
	$(BIN)/ruff check thinkube_tui lab tests benchmarks tools
	$(BIN)/ruff format --check thinkube_tui lab tests benchmarks tools
	$(BIN)/mypy

test: venv system-deps lint
	$(BIN)/python -m pytest -q

# Every benchmark, one table (docs/performance.md keeps the last one).
bench: venv system-deps
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info lab/build lab/*.egg-info
