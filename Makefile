# make setup | run | test | rehearse | lint | format | check-env | slides | badges
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
export LLM_WORKSHOP_CACHE ?= $(CURDIR)/build/cache
export MPLBACKEND ?= Agg

.PHONY: setup run test rehearse lint format badges check-env slides

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

# The full tier offline: random-weight copies of the real checkpoints, shrunk; writes build/rehearsal.md.
# On a GPU: $(PY) scripts/rehearse.py --real-size --fp16 (real size, as a T4 computes).
rehearse: setup
	$(PY) scripts/rehearse.py

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

slides: setup
	$(PY) scripts/make_slides.py
