"""Test-wide settings: every notebook kernel inherits these (nbmake passes pytest's environment on)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("LLM_WORKSHOP_TIER", "smoke")
os.environ.setdefault("LLM_WORKSHOP_CACHE", str(ROOT / "build" / "cache"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for var in ("LLM_WORKSHOP_REHEARSAL", "LLM_WORKSHOP_DTYPE"):  # `make rehearse` switches, never in the smoke suite
    os.environ.pop(var, None)
for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(var, "1")
