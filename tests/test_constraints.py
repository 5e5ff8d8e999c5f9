"""The version files agree: constraints.txt pins every requirement within its bounds and never pins torch;
constraints-colab.txt is Colab's list as pip can use it, and Colab's versions meet requirements.txt's lower bounds."""

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import colab_constraints  # noqa: E402
import freeze_constraints  # noqa: E402


def requirements(*names: str) -> list[Requirement]:
    lines = [line for name in names for line in (ROOT / name).read_text().splitlines()]
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def pins(path: Path) -> dict[str, Version]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {canonicalize_name(line.split("==")[0]): Version(line.split("==")[1]) for line in lines}


def test_constraints_pin_every_requirement_within_its_bounds_but_not_torch():
    pinned = pins(ROOT / "constraints.txt")
    assert not [name for name in pinned if freeze_constraints.TORCH_BUILD.match(name)], "torch must not be pinned"
    for req in requirements("requirements.txt", "requirements-dev.txt"):
        if req.name == "torch" or (req.marker and not req.marker.evaluate()):
            continue
        name = canonicalize_name(req.name)
        assert name in pinned, f"constraints.txt has no pin for {req.name}; run `make constraints`"
        assert req.specifier.contains(pinned[name]), f"constraints.txt pins {name}=={pinned[name]}, outside {req}"


def test_colab_preinstalled_versions_meet_the_lower_bounds():
    """Raising a bound above Colab's version makes the setup cell replace a preinstalled package."""
    colab = pins(ROOT / "constraints-colab.txt")
    checked = [req for req in requirements("requirements.txt") if canonicalize_name(req.name) in colab]
    assert {"torch", "transformers", "peft", "numpy"} <= {req.name for req in checked}
    for req in checked:
        assert req.specifier.contains(colab[canonicalize_name(req.name)]), f"Colab has {req.name} outside {req}"


def test_freeze_drops_torch_builds_and_editables():
    freeze = "torch==2.13.0+cpu\nnvidia-cublas-cu12==12.8.4.1\ntriton==3.6.0\nNumPy==2.4.6\n-e git+https://x#egg=y\n"
    assert freeze_constraints.pins(freeze + "Jinja2==3.1.6\n") == ["Jinja2==3.1.6", "NumPy==2.4.6"]


@pytest.mark.slow
def test_colab_constraints_from_a_backend_info_clone(tmp_path):
    freeze = "# header\ntorch==2.11.0+cu128\nnvidia-cublas-cu12==12.8.4.1\ngoogle-colab @ file:///colab.tar.gz\n"
    (tmp_path / "pip-freeze.gpu.txt").write_text(freeze + "scikit_learn==1.6.1\nnumpy==2.1.3\n")
    (tmp_path / "os-info-gpu.txt").write_text("# generated\nUbuntu 22.04.5 LTS\nPython 3.13.15\n")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "freeze"]):
        subprocess.run(git + command, check=True)
    out = tmp_path / "constraints-colab.txt"
    out.write_text(colab_constraints.constraints(tmp_path))
    assert [line for line in out.read_text().splitlines() if not line.startswith("#")] == [
        "numpy==2.1.3",
        "scikit_learn==1.6.1",
        "torch==2.11.0",
    ]
    assert "google-colab" in out.read_text() and "nvidia-cublas-cu12" in out.read_text()  # named as left out
    assert colab_constraints.colab_python(out) == "3.13.15"
    assert colab_constraints.pins(out) == {"numpy": "2.1.3", "scikit-learn": "1.6.1", "torch": "2.11.0"}


def test_preinstall_takes_what_colab_has_and_this_environment_lacks():
    report = {"install": [{"metadata": {"name": name}} for name in ("Scikit_Learn", "numpy", "trl", "llm_workshop")]}
    colab = {"numpy": "2.1.3", "scikit-learn": "1.6.1", "torch": "2.11.0"}
    assert colab_constraints.to_preinstall(report, colab, installed={"torch"}) == ["numpy", "scikit-learn"]
    assert colab_constraints.to_preinstall(report, colab, installed={"numpy"}) == ["scikit-learn"]  # an upgrade


def test_preinstalled_refuses_another_python(tmp_path, monkeypatch):
    monkeypatch.setattr(colab_constraints, "colab_python", lambda: "2.7.18")
    monkeypatch.setattr(sys, "argv", ["colab_constraints.py", "--preinstall"])
    with pytest.raises(SystemExit, match="Colab runs Python 2.7"):
        colab_constraints.main()


def test_bitsandbytes_installs_where_it_publishes_wheels():
    """Linux, Windows and macOS on Apple silicon (its CPU library); Intel Macs have no wheel."""
    bnb = next(req for req in requirements("requirements.txt") if req.name == "bitsandbytes")
    platforms = {
        ("linux", "x86_64"): True,
        ("linux", "aarch64"): True,
        ("win32", "AMD64"): True,
        ("darwin", "arm64"): True,
        ("darwin", "x86_64"): False,
    }
    for (system, machine), expected in platforms.items():
        found = bnb.marker.evaluate({"sys_platform": system, "platform_machine": machine})
        assert found == expected, f"bitsandbytes on {system} {machine}: marker says {found}, expected {expected}"
