"""Check that requirements*.txt with constraints.txt resolve on the platforms the README names, bitsandbytes included.

    python scripts/check_platforms.py        # make check-platforms; asks PyPI (uv pip compile), about a minute

For macOS 14+ on Apple silicon and Linux x86-64, on each Python from 3.11 to 3.13, `uv pip compile` resolves what
`make setup` installs (requirements.txt and requirements-dev.txt at the versions in constraints.txt; torch at the
newest release for the platform, as constraints.txt leaves it free). Unlike `pip download --platform`, uv evaluates
the environment markers for the target, so bitsandbytes' marker is checked too. The table goes to
build/platforms.md; the check fails when a resolution fails or lacks bitsandbytes where the course needs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# 3.11.5: the oldest 3.11 the tested set installs on (soupsieve 4.1.3, which beautifulsoup4 4.15 pins, needs it).
PYTHONS = ("3.11.5", "3.12", "3.13")
PLATFORMS = {"aarch64-apple-darwin": "macOS 14 arm64", "x86_64-unknown-linux-gnu": "Linux x86-64"}
MACOS = "14.0"  # bitsandbytes' macOS wheel is built for macOS 14 (Sonoma) and later; uv assumes 13 unless told
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def resolve(platform: str, python: str) -> tuple[dict[str, str], str]:
    """name -> version of `make setup`'s install resolved for a platform and Python, and uv's error if it failed."""
    command = [
        sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--no-header", "--no-annotate",
        "--python-platform", platform, "--python-version", python, "--constraint", str(ROOT / "constraints.txt"),
        str(ROOT / "requirements.txt"), str(ROOT / "requirements-dev.txt"),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "MACOSX_DEPLOYMENT_TARGET": MACOS}
    )
    if done.returncode != 0:
        return {}, " ".join(done.stderr.split())[:400]
    return {name.lower(): version for name, version in PIN.findall(done.stdout)}, ""


def main() -> int:
    rows, failures = [], []
    for platform, label in PLATFORMS.items():
        for python in PYTHONS:
            pins, error = resolve(platform, python)
            bnb, torch = pins.get("bitsandbytes", "missing"), pins.get("torch", "missing")
            if error:
                failures.append(f"{label}, Python {python}: {error}")
            elif bnb == "missing":
                failures.append(f"{label}, Python {python}: resolved without bitsandbytes (check its marker)")
            status = "resolves" if not error else "FAILS"
            rows.append(
                f"| {label} | {python} | {status} | {bnb if not error else '-'} | {torch if not error else '-'} |"
            )
            print(rows[-1], flush=True)
    table = [
        "| platform | Python | requirements + constraints | bitsandbytes | torch |",
        "| --- | --- | --- | --- | --- |",
    ]
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "platforms.md").write_text("\n".join(table + rows) + "\n")
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
