# make setup | run | test | test-fast | lab | lint | format | check-env | check-platforms | check-determinism | bench | test-kernels | colab-run | test-colab | test-latest | constraints | rehearse | slides | site | site-test | badges
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
export LLM_WORKSHOP_CACHE ?= $(CURDIR)/build/cache
export MPLBACKEND ?= Agg

.PHONY: setup run test test-fast lab rehearse lint format badges check-env check-platforms check-determinism bench \
	test-kernels slides site site-test

setup: $(VENV)/.installed

# torch goes in first: the pinned local CPU wheel where it exists, else the normal wheel (TORCH_INDEX_URL names another
# index, e.g. https://download.pytorch.org/whl/cpu). Everything else at the versions in constraints.txt, the set the
# whole suite last passed with; `make setup CONSTRAINTS=` takes the newest that requirements*.txt allow instead.
CONSTRAINTS ?= constraints.txt
# 3.11.5: the oldest Python the tested set installs on (soupsieve 4.1.3 needs it; Debian 12's python3 is 3.11.2).
export PYTHON_CHECK := import sys; sys.version_info >= (3, 11, 5) or sys.exit(f"The course needs Python 3.11.5 or \
	newer, but {sys.executable} is {sys.version.split()[0]}; name another with make PYTHON=python3.12 (or 3.13).")
TORCH_INDEX_URL ?=
TORCH_FROM = $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -c "$$PYTHON_CHECK"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==$(TORCH_VERSION) $(TORCH_FROM) || $(PY) -m pip install --quiet torch $(TORCH_FROM)
	$(PY) -m pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# make run NOTEBOOKS="module_03/01_scaling_and_memory.ipynb ...": only those (their numbers update build/measured.json).
run: setup
	$(PY) scripts/build_smoke.py
	$(PY) scripts/run_course.py $(NOTEBOOKS)

# The whole suite: unit tests, then every notebook through nbmake (the smoke stand-ins built first, two at a time).
NBMAKE := --nbmake --nbmake-timeout=600
test: setup
	$(PY) scripts/build_smoke.py
	$(PY) -m pytest $(NBMAKE)

# The unit tests without notebooks and without the tests marked slow (smoke builds, training, subprocesses).
test-fast: setup
	$(PY) -m pytest -p no:nbmake -m "not slow" tests

# JupyterLab on the course, in this folder's .venv (set up first when it is not).
lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=$(CURDIR)

# Every benchmark in benchmarks/, one run each; the ratios they print go to build/bench.md.
bench: setup
	$(PY) scripts/bench.py

# The lesson notebooks with another CPU's kernels (AVX2 on an AVX-512 machine, scalar ones on an AVX2 machine) and a
# fresh smoke cache, their lesson lines printed beside those of the machine's own kernels (build/measured.json).
test-kernels: setup
	$(PY) scripts/other_kernels.py

# Every smoke stand-in built by a 1-thread and a 2-thread process from empty caches: the same bytes (a few minutes).
check-determinism: setup
	$(PY) scripts/check_determinism.py

# requirements.txt with constraints.txt resolves for macOS arm64 and Linux x86-64 on Python 3.11-3.13, with
# bitsandbytes in each resolution (uv pip compile; needs PyPI).
check-platforms: setup
	$(PY) scripts/check_platforms.py

# The full tier offline: random-weight copies of the real checkpoints, shrunk; writes build/rehearsal.md.
# On a GPU: $(PY) scripts/rehearse.py --real-size --fp16 (real size, as a T4 computes).
rehearse: setup
	$(PY) scripts/rehearse.py

.PHONY: test-latest constraints colab-run test-colab

# The newest release of everything requirements*.txt allow, constraints.txt ignored (.github/workflows/latest.yml
# runs it weekly); torch stays as installed. If it passes, `make constraints` records what it passed with; if not,
# the next `make setup` goes back to the tested versions.
test-latest:
	$(MAKE) --no-print-directory setup CONSTRAINTS=
	$(PY) -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/torch-installed.txt
	$(PY) -m pip install --quiet --upgrade --upgrade-strategy eager -c $(VENV)/torch-installed.txt \
		-r requirements.txt -r requirements-dev.txt
	rm -f $(VENV)/.installed
	$(PY) -m pip list
	$(PY) -m pytest $(NBMAKE)

# Write the versions installed in .venv to constraints.txt (run it after `make test-latest` passed).
constraints:
	$(PY) scripts/freeze_constraints.py

# Colab's versions in a venv built anew for each run, as a fresh Colab runtime is: Colab's Python, pip, torch and every
# package Colab preinstalls that the course's install touches (constraints-colab.txt, from scripts/colab_constraints.py),
# and Colab's ipykernel; llm_workshop is not installed. colab-run then executes every notebook from its first cell as
# Colab does (scripts/colab_run.py: the clone served from this working tree, the setup cell's `%pip install -e` really
# run), then checks that a runtime without the repository gets a sentence. test-colab adds the unit tests on the
# versions the setup cell left.
COLAB_PYTHON ?= python3.13
COLAB_VENV ?= .venv-colab
COLAB_PY := $(COLAB_VENV)/bin/python
colab-run: setup
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_PY) -m pip install --quiet -c constraints-colab.txt pip
	$(COLAB_PY) -m pip install --quiet -c constraints-colab.txt torch $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL))
	$(COLAB_PY) scripts/colab_constraints.py --preinstall
	$(COLAB_PY) -m pip install --quiet -c constraints-colab.txt ipykernel
	LLM_WORKSHOP_CACHE=$(CURDIR)/build/cache-colab $(PY) scripts/colab_run.py --python $(COLAB_PY)
	$(PY) scripts/colab_run.py --python $(COLAB_PY) --unreachable module_01/01_text_representation.ipynb

# The tools the tests need go in after the notebooks' own install and may not change anything it installed.
test-colab: colab-run
	$(COLAB_PY) -m pip install --quiet --no-deps -e .
	$(COLAB_PY) -m pip freeze --exclude-editable > $(COLAB_VENV)/after-setup-cell.txt
	$(COLAB_PY) -m pip install --quiet -c $(COLAB_VENV)/after-setup-cell.txt -r requirements-dev.txt
	$(COLAB_PY) -m pip list
	LLM_WORKSHOP_CACHE=$(CURDIR)/build/cache-colab $(COLAB_PY) -m pytest -p no:nbmake tests

lint: setup
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

badges: setup
	$(PY) scripts/set_repo.py

check-env: setup
	$(PY) scripts/check_env.py

# Slides and website from the notebooks as `make run` executed them (it runs first when build/ has no run).
# reveal.js and MathJax come from npm (versions locked in website/package-lock.json) and are copied into the build.
website/node_modules/.installed: website/package.json website/package-lock.json
	npm ci --prefix website --no-audit --no-fund
	touch $@

slides: setup website/node_modules/.installed
	$(PY) scripts/make_slides.py

site: slides
	$(PY) scripts/build_site.py

# Every page of the site and every deck in headless Chromium (Debian's chromium package; .ci/run installs it).
site-test: site
	$(PY) -m pytest -o addopts="" -p no:cacheprovider website/test_site.py
