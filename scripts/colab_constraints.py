"""Derive constraints-colab.txt from Colab's published package list, so the suite can run on Colab's versions.

    git clone --depth 1 https://github.com/googlecolab/backend-info build/backend-info
    python scripts/colab_constraints.py build/backend-info      # rewrites constraints-colab.txt

`--preinstalled` prints the course requirements that Colab already has (what `make test-colab` installs at Colab's
versions before the setup cell's `pip install -e .`), after checking that this interpreter is Colab's Python.
"""

from __future__ import annotations

import argparse
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
    pins, dropped_urls, dropped_labels, dropped_cuda = [], [], [], []
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
        pins.append(f"{name}=={version}")
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
    return "\n".join(header + sorted(pins, key=str.lower)) + "\n"


def colab_python(path: Path = OUTPUT) -> str:
    """Colab's Python version, from the `# python:` line of the constraints file."""
    return next(line.split()[-1] for line in path.read_text().splitlines() if line.startswith("# python:"))


def preinstalled(path: Path = OUTPUT) -> list[str]:
    """Names in requirements.txt that Colab already has: `pip install -e` keeps them unless a bound forces more."""
    pinned = {normalize(PIN.match(line).group(1)) for line in path.read_text().splitlines() if PIN.match(line)}
    names = [
        re.split(r"[<>=!~;\s\[]", line, maxsplit=1)[0] for line in (ROOT / "requirements.txt").read_text().splitlines()
    ]
    return [name for name in names if name and not name.startswith("#") and normalize(name) in pinned]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", type=Path, help="a clone of github.com/googlecolab/backend-info")
    parser.add_argument("--preinstalled", action="store_true", help="print the course packages Colab preinstalls")
    args = parser.parse_args()
    if args.preinstalled:
        want, have = colab_python().rsplit(".", 1)[0], f"{sys.version_info.major}.{sys.version_info.minor}"
        if want != have:
            sys.exit(f"Colab runs Python {want} but this is Python {have}; create the venv with python{want}.")
        print(" ".join(preinstalled()))
        return 0
    if args.source is None or not (args.source / ".git").exists() and not (args.source / "HEAD").exists():
        parser.error("give the path of a git clone of https://github.com/googlecolab/backend-info")
    OUTPUT.write_text(constraints(args.source))
    print(f"wrote {OUTPUT.relative_to(ROOT)} (Python {colab_python()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
