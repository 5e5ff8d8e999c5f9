# make setup | run | test | lint | format | check-env | slides | site | site-test | badges
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
export LLM_WORKSHOP_CACHE ?= $(CURDIR)/build/cache
export MPLBACKEND ?= Agg

.PHONY: setup run test lint format badges check-env slides site site-test

setup: $(VENV)/.installed

# torch goes in first: the pinned local CPU wheel where it exists, else the normal wheel.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==$(TORCH_VERSION) || $(PY) -m pip install --quiet torch
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

run: setup
	$(PY) scripts/run_course.py

test: setup
	$(PY) -m pytest

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
