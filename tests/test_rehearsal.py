"""The rehearsal switch in runtime.setup(), the random-weight Hub mirror, and how a failing cell is classified."""

import json
import os
import subprocess
import sys

import pytest
import torch

from llm_workshop.course import runtime
from llm_workshop.course.data import REPO_ROOT as ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import rehearsal  # noqa: E402  (scripts/rehearsal.py: the tooling this file tests)


def test_rehearsal_runs_the_full_tier_on_a_cpu_and_says_so(monkeypatch, capsys):
    monkeypatch.delenv("LLM_WORKSHOP_TIER", raising=False)
    monkeypatch.setenv("LLM_WORKSHOP_REHEARSAL", "shrink")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "hub_reachable", lambda timeout_s=3.0: pytest.fail("a rehearsal is offline"))
    rt = runtime.setup(requires_gpu=True)  # waived: the rehearsal runs GPU code paths on the CPU
    line = capsys.readouterr().out.strip()
    assert rt.tier == "full" and rt.offline and rt.shrunk and "\n" not in line
    assert "REHEARSAL (shrink)" in line and "depth cut to 2 layers" in line
    assert (rt.cap(400, 4), rt.cap(3, 4)) == (4, 3)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_without_rehearsal_nothing_is_capped_and_the_gpu_is_required(monkeypatch):
    monkeypatch.delenv("LLM_WORKSHOP_REHEARSAL", raising=False)
    monkeypatch.setenv("LLM_WORKSHOP_TIER", "full")
    monkeypatch.setattr(runtime, "hub_reachable", lambda timeout_s=3.0: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.setup().cap(400, 4) == 400
    with pytest.raises(runtime.GPUUnavailableError):
        runtime.setup(requires_gpu=True)
    monkeypatch.setenv("LLM_WORKSHOP_REHEARSAL", "real")
    assert runtime.setup(requires_gpu=True).cap(400, 4) == 400  # a real-size rehearsal caps nothing


def test_rehearsal_switch_and_dtype_are_checked(monkeypatch):
    monkeypatch.setenv("LLM_WORKSHOP_REHEARSAL", "tiny")
    with pytest.raises(ValueError, match="shrink, real"):
        runtime.setup()
    monkeypatch.setenv("LLM_WORKSHOP_REHEARSAL", "shrink")
    monkeypatch.setenv("LLM_WORKSHOP_TIER", "smoke")
    with pytest.raises(ValueError, match="rehearses the full tier"):
        runtime.setup()
    monkeypatch.setenv("LLM_WORKSHOP_DTYPE", "half")
    with pytest.raises(ValueError, match="float16"):
        runtime.choose_dtype(torch.device("cpu"))


def test_forced_fp16_is_what_a_t4_gets(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))  # an H100
    assert runtime.choose_dtype(torch.device("cuda")) == torch.bfloat16
    monkeypatch.setenv("LLM_WORKSHOP_DTYPE", "float16")
    assert runtime.choose_dtype(torch.device("cuda")) == torch.float16
    monkeypatch.setenv("LLM_WORKSHOP_TIER", "smoke")
    runtime.setup()
    assert "dtype=float16 (forced by LLM_WORKSHOP_DTYPE)" in capsys.readouterr().out


@pytest.mark.slow
def test_mirror_checkpoint_loads_by_hub_id_offline(tmp_path):
    """A mirror entry is a Hugging Face cache entry: `from_pretrained(hub id)` finds it with HF_HUB_OFFLINE=1."""
    repo = tmp_path / "hub" / "models--lvwerra--distilbert-imdb"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rehearsal.REVISION)
    rehearsal.random_checkpoint("sentiment", repo / "snapshots" / rehearsal.REVISION, shrink=True)
    probe = (
        "import json, transformers as t\n"
        "m = t.AutoModelForSequenceClassification.from_pretrained('lvwerra/distilbert-imdb')\n"
        "k = t.AutoTokenizer.from_pretrained('lvwerra/distilbert-imdb')\n"
        "print(json.dumps([m.config.n_layers, m.config.dim, m.config.id2label, k.tokenize('Hello World')]))\n"
    )
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == [2, 768, {"0": "NEGATIVE", "1": "POSITIVE"}, ["hello", "world"]]


@pytest.mark.slow
def test_mirror_serves_minilm_to_sentence_transformers_offline(tmp_path):
    """2.6's encoder: `SentenceTransformer(hub id)` loads the random-weight copy, shrunk, with its real module files."""
    repo = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rehearsal.REVISION)
    rehearsal.random_checkpoint("encoder", repo / "snapshots" / rehearsal.REVISION, shrink=True)
    probe = (
        "import json, sentence_transformers as s\n"
        "m = s.SentenceTransformer('sentence-transformers/all-MiniLM-L6-v2', device='cpu')\n"
        "v = m.encode(['The speckled band'])\n"
        "print(json.dumps([m[0].auto_model.config.num_hidden_layers, v.shape[1], round(float((v**2).sum()), 4)]))\n"
    )
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == [2, 384, 1.0]


CELL = """x = compute()
assert x > 0, "fine"
y = x + 1
assert y > 1
print(y)
for z in (1, 2):
    assert z
"""


def traceback_for(count: int, line: int) -> list[str]:
    """An IPython-style traceback (with colour codes) whose innermost frame is line `line` of cell `count`."""
    return [
        "\x1b[0;31m---------\x1b[0m",
        f"Cell \x1b[0;32mIn[{count}]\x1b[0m, line \x1b[0;32m{line}\x1b[0m\n----> {line} assert ...",
        "\x1b[0;31mAssertionError\x1b[0m: ",
    ]


def test_checking_lines_are_the_closing_statements_that_bind_nothing():
    assert list(rehearsal.checking_lines(CELL)) == [4, 5, 6, 7]  # line 2's assert is followed by `y = ...`
    assert list(rehearsal.checking_lines("a = 1")) == []
    assert list(rehearsal.checking_lines("!ls\nx = %pwd\nassert x")) == [3]  # shell escapes and magics parse too


@pytest.mark.parametrize(
    ("ename", "count", "line", "expected"),
    [
        ("AssertionError", 7, 4, rehearsal.OUTCOME),  # a closing outcome assert
        ("AssertionError", 7, 7, rehearsal.OUTCOME),  # inside the closing loop
        ("AssertionError", 7, 2, rehearsal.DEFECT),  # mid-cell: `y` would be missing in later cells (3.4's cascade)
        ("AssertionError", 5, 4, rehearsal.DEFECT),  # raised inside a function defined in another cell
        ("NameError", 7, 4, rehearsal.DEFECT),
    ],
)
def test_classify_error(ename, count, line, expected):
    assert rehearsal.classify_error(CELL, 7, ename, traceback_for(count, line)) == expected


def test_an_assert_inside_library_code_is_a_defect():
    library = ["---", "File ~/site-packages/torch/x.py:12, in f()\n---> 12 assert shape == other", "AssertionError: "]
    assert rehearsal.classify_error(CELL, 7, "AssertionError", library) == rehearsal.DEFECT


@pytest.mark.slow
def test_script_classifies_a_real_notebook_run(tmp_path):
    """End to end through nbclient: the outcome assert is listed, the mid-cell one is a defect, the run exits 1."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("a = 1\nassert a == 2, 'outcome'"),  # mid-cell: binds nothing after, so outcome
        nbformat.v4.new_code_cell("assert a == 2\nb = 3"),  # binds b after the assert: defect
        nbformat.v4.new_code_cell("print(b)"),  # NameError: defect
    ]
    path = tmp_path / "01_probe.ipynb"
    nbformat.write(nb, path)
    import rehearse

    result = rehearse.run_notebook(path, timeout=120)
    assert [(f["cell"], f["class"]) for f in result["failures"]] == [
        (1, rehearsal.OUTCOME),
        (2, rehearsal.DEFECT),
        (3, rehearsal.DEFECT),
    ]
    assert result["failures"][0]["error"] == "AssertionError: outcome" and result["metrics"]["rss_kb"] > 0
