"""Data parallelism for real: two CPU ranks (gloo) fine-tune the smoke GPT-2 and end with identical weights.

The issue asked for `accelerate launch --cpu --num_processes 2`, but accelerate 1.x then starts a
single process; `--multi_gpu` with `Accelerator(cpu=True)` inside (the script's --cpu) starts two.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here builds or loads smoke stand-ins (make test-fast skips them)

ROOT = Path(__file__).resolve().parents[1]


def test_two_cpu_ranks_finish_with_identical_weights_and_lower_loss(tmp_path):
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        str(ROOT / "scripts" / "train_accelerate.py"), "--cpu", "--steps", "20", "--out", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert all(r["world_size"] == 2 and "MULTI_CPU" in r["distributed_type"] for r in reports)
    assert reports[0]["checksum"] == reports[1]["checksum"], "data-parallel ranks must hold the same weights"
    assert reports[0]["last_loss"] < reports[0]["first_loss"] - 0.1


def test_bad_arguments_are_one_sentence():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_accelerate.py"), "--steps", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "--steps and --batch-size must be >= 1" in result.stderr
