# The course's commands. Everything runs inside .venv, made from requirements.txt.
#   make test      install, then run every test (unit tests + nbval on every notebook)
#   make book      install, then build the website into _build/html
#   make execute   re-execute every notebook in place (or one: make execute NB=chapters/01_notation.ipynb)
#   make check-site  build the book, then read every page in headless Chromium (tools/check_site.py):
#                  maths typeset, nothing loaded from outside 127.0.0.1, links, figures, animations,
#                  dark-mode contrast; screenshots into _build/screenshots (CHROMIUM=/path/to/chrome
#                  chooses the browser; Debian: apt-get install chromium)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test book check-site execute bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# Build matplotlib's font cache now: building it inside a notebook can print
	# a warning to stderr, which nbval would report as a changed output.
	$(BIN)/python -c "import matplotlib.font_manager"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

book: install
	$(BIN)/jupyter-book build . -W -n --keep-going

# The browser is looked for first, so a reader without it is told what to
# install before waiting for the build.
export CHROMIUM
check-site: install
	$(BIN)/python -m tools.check_site --find-browser
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python -m tools.check_site

execute: install
	$(BIN)/python -m tools.execute_notebooks $(NB)

bench: install
	$(BIN)/python benchmarks/bench_conv.py

clean:
	rm -rf _build .pytest_cache .hypothesis
