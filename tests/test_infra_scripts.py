"""The small course-infrastructure scripts: which kernels other_kernels.py switches to, and bench.py's bad input."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import other_kernels  # noqa: E402


def test_other_kernels_step_down_from_the_machines_own():
    assert other_kernels.other_kernels("AVX512") == other_kernels.AVX2
    assert other_kernels.other_kernels("AVX512_BF16") == other_kernels.AVX2
    assert other_kernels.other_kernels("AVX2") == {"ATEN_CPU_CAPABILITY": "default"}
    with pytest.raises(SystemExit, match="already runs its DEFAULT kernels"):
        other_kernels.other_kernels("DEFAULT")


@pytest.mark.slow
def test_the_switch_really_changes_pytorchs_kernels():
    own = other_kernels.capability(dict(os.environ))
    other = other_kernels.capability({**os.environ, **other_kernels.other_kernels(own)})
    assert other != own, f"{other_kernels.other_kernels(own)} left PyTorch on {own}"


def test_bench_names_the_benchmarks_it_knows_when_given_another():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "no_such"], capture_output=True, text=True
    )
    assert done.returncode == 1 and "No benchmark named no_such in benchmarks/; choose from" in done.stderr, done.stderr
    assert "kv_cache" in done.stderr
