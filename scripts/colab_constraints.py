"""Derive constraints-colab.txt from Colab's published package list, so the suite can run on Colab's versions.

    git clone --depth 1 https://github.com/googlecolab/backend-info build/backend-info
    python scripts/colab_constraints.py build/backend-info      # rewrites constraints-colab.txt

`--preinstall` (run by `make test-colab` with the Colab venv's Python) installs, at Colab's versions, every package
Colab has that the setup cell's `pip install -e .` would otherwise add, so that install then meets what it meets on
Colab: it keeps what satisfies the course's requirements and upgrades the rest, exactly as there.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "constraints-colab.txt"
FREEZE, OS_INFO = "pip-freeze.gpu.txt", "os-info-gpu.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s+;]+)(\+\S+)?$")
CUDA_BUILD = re.compile(r"^(nvidia|cuda)[-_]", re.IGNORECASE)  # the CUDA libraries of Colab's torch+cu128 build


def normalize(name: str) -> str:
    """PEP 503 name: `scikit_learn` and `Scikit-Learn` are the same package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def git(source: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(source), *args], check=True, capture_output=True, text=True).stdout


def constraints(source: Path) -> str:
    """The text of constraints-colab.txt from a clone of googlecolab/backend-info (its HEAD commit)."""
    commit, day = git(source, "log", "-1", "--format=%H %cs").split()
    os_info = [line for line in git(source, "show", f"HEAD:{OS_INFO}").splitlines() if not line.startswith("#")]
    python = next(line.split()[1] for line in os_info if line.startswith("Python "))
    kept, dropped_urls, dropped_labels, dropped_cuda = [], [], [], []
    for line in git(source, "show", f"HEAD:{FREEZE}").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line.strip())
        if not match:  # `name @ https://...` or `@ git+...`: constraints cannot name URLs
            dropped_urls.append(line.split()[0])
            continue
        name, version, label = match.groups()
        if CUDA_BUILD.match(name):
            dropped_cuda.append(name)
            continue
        if label:
            dropped_labels.append(f"{name}=={version}{label}")
        kept.append(f"{name}=={version}")
    notes = [
        f"Source: https://github.com/googlecolab/backend-info {FREEZE} and {OS_INFO} at {commit[:7]} ({day}): "
        f"{os_info[0]}, Python {python}.",
        f"Generated on {date.today().isoformat()} by scripts/colab_constraints.py (its docstring says how to refresh).",
        "Local version labels dropped, so the PyPI or CPU wheel of the same release matches: "
        + ", ".join(dropped_labels),
        "Left out, installed from URLs on Colab (constraints cannot name URLs): " + ", ".join(dropped_urls),
        "Left out, the CUDA libraries of Colab's torch+cu128 build (a torch wheel of the same release from PyPI or the "
        "CPU index needs others or none): " + ", ".join(dropped_cuda),
    ]
    header = [
        "# Colab's preinstalled packages (GPU runtime) as pip constraints: what the setup cell's `pip install -e` meets."
    ]
    header += [
        textwrap.fill(note, 118, initial_indent="# ", subsequent_indent="#   ", break_on_hyphens=False)
        for note in notes
    ]
    header.append(f"# python: {python}")
    return "\n".join(header + sorted(kept, key=str.lower)) + "\n"


def colab_python(path: Path = OUTPUT) -> str:
    """Colab's Python version, from the `# python:` line of the constraints file."""
    return next(line.split()[-1] for line in path.read_text().splitlines() if line.startswith("# python:"))


def pins(path: Path = OUTPUT) -> dict[str, str]:
    """Normalized name -> version of every pin in a constraints file."""
    matches = [PIN.match(line) for line in path.read_text().splitlines()]
    return {normalize(m.group(1)): m.group(2) for m in matches if m}


def to_preinstall(report: dict, colab: dict[str, str], installed: set[str]) -> list[str]:
    """Packages a `pip install --report` would add that Colab already has and this environment lacks."""
    names = {normalize(item["metadata"]["name"]) for item in report["install"]}
    return sorted(name for name in names if name in colab and name not in installed)


def preinstall() -> None:
    """Install Colab's version of each package the course's install would add here, until nothing is left to add."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    while True:
        dry_run = subprocess.run([*pip, "--dry-run", "--report", "-", "-e", str(ROOT)], check=True, capture_output=True)
        installed = {normalize(dist.metadata["Name"]) for dist in importlib.metadata.distributions()}
        names = to_preinstall(json.loads(dry_run.stdout), pins(), installed)
        if not names:
            return
        print("preinstalled on Colab:", " ".join(f"{name}=={pins()[name]}" for name in names), flush=True)
        subprocess.run([*pip, "-c", str(OUTPUT), *names], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", type=Path, help="a clone of github.com/googlecolab/backend-info")
    parser.add_argument("--preinstall", action="store_true", help="install what Colab has that the course would add")
    args = parser.parse_args()
    if args.preinstall:
        want, have = colab_python().rsplit(".", 1)[0], f"{sys.version_info.major}.{sys.version_info.minor}"
        if want != have:
            sys.exit(f"Colab runs Python {want} but this is Python {have}; create the venv with python{want}.")
        preinstall()
        return 0
    if args.source is None or not (args.source / ".git").exists() and not (args.source / "HEAD").exists():
        parser.error("give the path of a git clone of https://github.com/googlecolab/backend-info")
    OUTPUT.write_text(constraints(args.source))
    print(f"wrote {OUTPUT.relative_to(ROOT)} (Python {colab_python()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
