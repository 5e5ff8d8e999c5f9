"""Print what this machine has for the course: library versions, the GPU, and the tier each notebook will run in."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LIBRARIES = (
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "accelerate",
    "peft",
    "trl",
    "bitsandbytes",
    "gensim",
    "lm-eval",
)


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def needs_gpu(notebook: Path) -> bool:
    """A notebook needs a CUDA GPU in the full tier when its setup cell says `requires_gpu=True`."""
    cells = json.loads(notebook.read_text())["cells"]
    setup = next(("".join(c["source"]) for c in cells if c["cell_type"] == "code"), "")
    return "requires_gpu=True" in setup


def main() -> int:
    import torch

    from llm_workshop.course.runtime import choose_dtype, choose_tier

    print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}")
    for package in LIBRARIES:
        print(f"  {package:<13} {version(package)}")
    has_gpu = torch.cuda.is_available()
    if has_gpu:
        props = torch.cuda.get_device_properties(0)
        print(
            f"GPU: {props.name}, {props.total_memory / 2**30:.1f} GiB, compute capability "
            f"{props.major}.{props.minor}, course dtype {choose_dtype(torch.device('cuda'))}"
        )
    else:
        print("GPU: none (CUDA not available); notebooks run on the CPU")
    tier, _, reason = choose_tier()
    print(f"Tier: {tier} ({reason})")
    print("\nNotebook                                          runs in")
    for notebook in sorted(ROOT.glob("module_*/[0-9][0-9]_*.ipynb")):
        if tier == "full" and needs_gpu(notebook) and not has_gpu:
            where = "needs a GPU in the full tier: use Colab's T4, or LLM_WORKSHOP_TIER=smoke"
        else:
            where = f"{tier} tier on {'GPU' if has_gpu else 'CPU'}"
        print(f"  {notebook.relative_to(ROOT).as_posix():<48} {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
