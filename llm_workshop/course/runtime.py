"""Pick the run tier, device and dtype for a notebook, seed everything, and say what was chosen; and the
trainer arguments (precision, device, seeds) that follow from that choice.

`setup()` is the first code call of every notebook. The `smoke` tier runs tiny local models on
any CPU without a network; the `full` tier loads the real checkpoints from the Hugging Face Hub.
`make rehearse` runs the full tier offline on random-weight copies of those checkpoints; the one
switch `LLM_WORKSHOP_REHEARSAL` says so, and `rt.cap` shrinks the work when the copies are shrunk.
"""

from __future__ import annotations

import os
import random
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np
import torch

TIERS = ("smoke", "full")
HUB_URL = "https://huggingface.co/api/models/gpt2"
OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
# The rehearsal switch: "shrink" = random weights, depth cut to REHEARSAL_LAYERS, work capped (a CPU);
# "real" = random weights at real size, nothing capped (a GPU). Unset: no rehearsal.
REHEARSAL_VAR = "LLM_WORKSHOP_REHEARSAL"
REHEARSAL_MODES = ("shrink", "real")
REHEARSAL_LAYERS = 2
DTYPE_VAR = "LLM_WORKSHOP_DTYPE"  # force the compute dtype, e.g. float16 to run as a T4 would on a newer GPU
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class GPUUnavailableError(RuntimeError):
    """Raised when a notebook needs a CUDA GPU in the full tier and none is present."""


@dataclass(frozen=True)
class Runtime:
    """What `setup()` chose: the tier, the torch device and dtype, and whether the Hub is out of reach."""

    tier: str
    device: torch.device
    dtype: torch.dtype
    offline: bool
    seed: int
    rehearsal: str = ""  # "", "shrink" or "real": see REHEARSAL_VAR

    @property
    def smoke(self) -> bool:
        return self.tier == "smoke"

    @property
    def shrunk(self) -> bool:
        """True in a shrinking rehearsal: the models are random-weight copies with fewer layers."""
        return self.rehearsal == "shrink"

    def cap(self, n: int, rehearsal_max: int) -> int:
        """`n` (steps, examples, tokens), or at most `rehearsal_max` in a shrinking rehearsal on a CPU."""
        return min(n, rehearsal_max) if self.shrunk else n


def valid_tier(tier: str) -> str:
    """Return `tier` if it is one of TIERS, else raise a ValueError that names the valid ones."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; use one of {', '.join(TIERS)}")
    return tier


def rehearsal_mode() -> str:
    """The rehearsal switch from `LLM_WORKSHOP_REHEARSAL`: "" (none), "shrink" or "real"; anything else is an error."""
    mode = os.environ.get(REHEARSAL_VAR, "").strip().lower()
    if mode and mode not in REHEARSAL_MODES:
        raise ValueError(
            f"{REHEARSAL_VAR}={mode!r} is not a rehearsal mode; use one of {', '.join(REHEARSAL_MODES)} "
            "(or leave it unset outside `make rehearse`)."
        )
    return mode


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """True when the Hugging Face Hub answers an HTTP request within `timeout_s` seconds."""
    try:
        with urllib.request.urlopen(HUB_URL, timeout=timeout_s) as response:
            return response.status < 500
    except (urllib.error.URLError, OSError, ValueError):
        return False


def choose_tier() -> tuple[str, bool, str]:
    """Return (tier, offline, reason) from `LLM_WORKSHOP_TIER`, the `CI` variable and the network."""
    requested = os.environ.get("LLM_WORKSHOP_TIER", "").strip().lower()
    if requested and requested not in TIERS:
        raise ValueError(
            f"LLM_WORKSHOP_TIER={requested!r} is not a tier; use one of {', '.join(TIERS)} "
            "(or leave it unset to choose automatically)."
        )
    if rehearsal_mode():
        if requested == "smoke":
            raise ValueError(f"{REHEARSAL_VAR} rehearses the full tier; unset it or LLM_WORKSHOP_TIER=smoke.")
        return "full", True, f"{REHEARSAL_VAR}={rehearsal_mode()}"
    if requested == "smoke":
        return "smoke", True, "LLM_WORKSHOP_TIER=smoke"
    online = hub_reachable()
    if requested == "full":
        return "full", not online, "LLM_WORKSHOP_TIER=full"
    if os.environ.get("CI"):
        return "smoke", not online, "CI is set"
    if online:
        return "full", False, "the Hugging Face Hub is reachable"
    return "smoke", True, "the Hugging Face Hub is not reachable"


def choose_dtype(device: torch.device) -> torch.dtype:
    """bf16 on GPUs of compute capability >= 8 (Ampere+), fp16 on older GPUs such as the T4, fp32 on CPU.

    A T4 reports bf16 as supported through emulation, so the capability is checked instead.
    `LLM_WORKSHOP_DTYPE` (float32, float16, bfloat16) overrides the choice.
    """
    forced = os.environ.get(DTYPE_VAR, "").strip().lower()
    if forced:
        if forced not in DTYPES:
            raise ValueError(f"{DTYPE_VAR}={forced!r} is not a dtype; use one of {', '.join(DTYPES)}")
        return DTYPES[forced]
    if device.type != "cuda":
        return torch.float32
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so two runs give the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def quiet_libraries() -> None:
    """Keep library chatter out of a notebook's outputs: transformers' per-file progress bars (loading and saving
    weights) and its info and warning log lines. Trainer's training progress bar stays."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()

def setup(seed: int = 0, requires_gpu: bool = False) -> Runtime:
    """Choose tier, device and dtype, seed everything, print one line saying what and why.

    With `requires_gpu=True` the full tier without CUDA stops here with a clear message,
    rather than with a CUDA error many cells later (except in a rehearsal, which runs GPU code paths on a CPU).
    """
    tier, offline, reason = choose_tier()
    rehearsal = rehearsal_mode()
    has_cuda = torch.cuda.is_available()
    if tier == "full" and requires_gpu and not has_cuda and not rehearsal:
        raise GPUUnavailableError(
            "This notebook trains models in the full tier and needs a CUDA GPU, but none was found. "
            "On Colab choose Runtime > Change runtime type > T4 GPU and run again; "
            "or set LLM_WORKSHOP_TIER=smoke to run the small offline version on this CPU."
        )
    if tier == "smoke" or offline:
        for var in OFFLINE_VARS:
            os.environ[var] = "1"
    device = torch.device("cuda" if has_cuda else "cpu")
    dtype = choose_dtype(device)
    seed_everything(seed)
    quiet_libraries()
    name = torch.cuda.get_device_name(device) if has_cuda else "CPU"
    forced = f" (forced by {DTYPE_VAR})" if os.environ.get(DTYPE_VAR) else ""
    note = {
        "": "",
        "shrink": f"; REHEARSAL (shrink): random weights, depth cut to {REHEARSAL_LAYERS} layers, steps capped",
        "real": "; REHEARSAL (real): random weights at real size, nothing capped",
    }[rehearsal]
    print(
        f"llm_workshop: tier={tier} ({reason}), device={device.type} ({name}), "
        f"dtype={str(dtype).removeprefix('torch.')}{forced}, seed={seed}{note}"
    )
    return Runtime(tier=tier, device=device, dtype=dtype, offline=offline, seed=seed, rehearsal=rehearsal)


def trainer_args(rt: Runtime) -> dict[str, object]:
    """The keyword arguments every transformers/TRL training config needs for `rt`: mixed precision said out loud
    (fp16 on a T4, bf16 on Ampere and newer, neither on a CPU; TRL would otherwise turn bf16 on by itself), the
    device, no experiment tracker, and the seed of the weights and of the data order."""
    cuda = rt.device.type == "cuda"
    return {
        "bf16": cuda and rt.dtype == torch.bfloat16,
        "fp16": cuda and rt.dtype == torch.float16,
        "use_cpu": not cuda,
        "report_to": "none",
        "seed": rt.seed,
        "data_seed": rt.seed,
    }
