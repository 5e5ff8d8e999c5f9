"""The Makefile's first line lists every target, so `head -1 Makefile` is the menu."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_first_line_lists_every_target():
    text = (ROOT / "Makefile").read_text()
    listed = set(re.findall(r"[a-z][a-z-]*", text.splitlines()[0].removeprefix("# make")))
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", text, re.MULTILINE))
    assert targets, "no target found in the Makefile"
    assert listed == targets, f"first line lacks {sorted(targets - listed)}, lists unknown {sorted(listed - targets)}"
