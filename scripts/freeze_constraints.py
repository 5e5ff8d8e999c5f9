"""Write constraints.txt: the exact versions in this environment, the set the whole suite just passed with.

Run it as `make constraints` after `make test` or `make test-latest` passed. torch and the packages that come with
one torch build are left out: the Makefile installs torch first (TORCH_VERSION), and a torch pin here would make pip
replace a learner's own torch build with another one (a bare PyPI torch is a multi-GB CUDA build).
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "constraints.txt"
TORCH_BUILD = re.compile(r"^(torch|torchvision|torchaudio|triton|nvidia-[a-z0-9-]+)$")


def pins(freeze: str) -> list[str]:
    """The `name==version` lines of a `pip freeze`, without torch and its build-specific companions."""
    lines = [line.strip() for line in freeze.splitlines() if "==" in line and not line.startswith("#")]
    return sorted((line for line in lines if not TORCH_BUILD.match(line.split("==")[0].lower())), key=str.lower)


def main() -> int:
    import torch

    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout
    header = [
        "# The exact versions the whole suite (`make test`) last passed with; `make setup` installs them (pip -c).",
        f"# Frozen on {date.today().isoformat()} from Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()} with torch {torch.__version__}, which is not",
        "# pinned here: the Makefile installs torch first (TORCH_VERSION), and a pin would make pip swap a learner's torch.",
        "# Refresh: `make test-latest` (the newest releases, this file ignored), and when it passes `make constraints`",
        "# (scripts/freeze_constraints.py). requirements.txt keeps the lower bounds that Colab resolves against.",
    ]
    OUTPUT.write_text("\n".join(header + pins(freeze)) + "\n")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(pins(freeze))} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
