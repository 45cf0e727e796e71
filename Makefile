# The course's commands. Everything runs inside .venv, made from requirements.txt.
#   make test      install, then run every test (unit tests + nbval on every notebook)
#   make install-torch  add PyTorch (requirements-torch.txt): the parity tests run instead of skipping
#   make book      install, then build the website into _build/html
#   make execute   re-execute every notebook in place (or one: make execute NB=chapters/01_notation.ipynb)
#   make check-site  build the book, then read every page in headless Chromium (tools/check_site.py):
#                  maths typeset, nothing loaded from outside 127.0.0.1, links, figures, animations,
#                  dark-mode contrast; screenshots into _build/screenshots (CHROMIUM=/path/to/chrome
#                  chooses the browser; Debian: apt-get install chromium)
#   make serve     serve the built site on http://127.0.0.1:8000 (make serve PORT=8080)
#   make student   write the student edition (solutions out, checks kept) into _build/student
#                  and build it as a site of its own (_build/student/_build/html); its launch
#                  buttons open STUDENT_REPO (make student STUDENT_REPO=https://github.com/...)
#   make student-check  prove the student edition on every chapter (tools/student_edition.py)
#   make plateau-study  compute chapter 13's seed study (minutes) into src/convgrad/results/plateau_study.json
#   make plateau-check  compute it again and compare with that record (tools/plateau_study.py --check)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

PORT ?= 8000

.PHONY: install install-torch test book check-site serve student student-check execute bench plateau-study plateau-check clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# Build matplotlib's font cache now: building it inside a notebook can print
	# a warning to stderr, which nbval would report as a changed output.
	$(BIN)/python -c "import matplotlib.font_manager"
	touch $(STAMP)

# PyTorch's CPU build for the parity suite (optional locally; .ci/run requires it).
install-torch: install
	$(BIN)/python -m pip install --quiet -r requirements-torch.txt

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

serve:
	@test -f _build/html/index.html || { echo "no site in _build/html: run make book first"; exit 2; }
	@echo "serving _build/html on http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# The student edition is a book of its own: built with the same zero-warning rule.
student: install
	$(BIN)/python -m tools.student_edition --target _build/student $(if $(STUDENT_REPO),--repository $(STUDENT_REPO))
	cd _build/student && $(CURDIR)/$(BIN)/jupyter-book build . -W -n --keep-going

student-check: install
	$(BIN)/python -m tools.student_edition --round-trip

execute: install
	$(BIN)/python -m tools.execute_notebooks $(NB)

plateau-study: install
	$(BIN)/python -m tools.plateau_study

plateau-check: install
	$(BIN)/python -m tools.plateau_study --check

bench: install
	$(BIN)/python benchmarks/bench_conv.py

clean:
	rm -rf _build .pytest_cache .hypothesis
