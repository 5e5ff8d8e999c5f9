import logging

import pytest
import torch

from llm_workshop.course import runtime


def test_smoke_tier_from_environment(monkeypatch, capsys):
    monkeypatch.setenv("LLM_WORKSHOP_TIER", "smoke")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rt = runtime.setup(seed=3)
    assert rt.tier == "smoke" and rt.smoke and rt.offline
    assert rt.device.type == "cpu" and rt.dtype == torch.float32
    line = capsys.readouterr().out.strip()
    assert line.startswith("llm_workshop: tier=smoke") and "\n" not in line


def test_invalid_tier_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("LLM_WORKSHOP_TIER", "large")
    with pytest.raises(ValueError, match="smoke, full"):
        runtime.setup()


def test_unset_tier_in_ci_is_smoke(monkeypatch):
    monkeypatch.delenv("LLM_WORKSHOP_TIER", raising=False)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(runtime, "hub_reachable", lambda timeout_s=3.0: True)
    assert runtime.choose_tier()[0] == "smoke"


def test_unset_tier_online_is_full_offline_is_smoke(monkeypatch):
    monkeypatch.delenv("LLM_WORKSHOP_TIER", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(runtime, "hub_reachable", lambda timeout_s=3.0: True)
    assert runtime.choose_tier()[:2] == ("full", False)
    monkeypatch.setattr(runtime, "hub_reachable", lambda timeout_s=3.0: False)
    assert runtime.choose_tier()[:2] == ("smoke", True)


def test_hub_check_gives_up_quickly_without_network(monkeypatch):
    monkeypatch.setattr(runtime, "HUB_URL", "http://127.0.0.1:9/")  # the discard port: nothing listens
    assert runtime.hub_reachable(timeout_s=1.0) is False


def test_full_tier_without_gpu_says_what_to_do(monkeypatch):
    monkeypatch.setenv("LLM_WORKSHOP_TIER", "full")
    monkeypatch.setattr(runtime, "hub_reachable", lambda timeout_s=3.0: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(runtime.GPUUnavailableError, match="Change runtime type.*LLM_WORKSHOP_TIER=smoke"):
        runtime.setup(requires_gpu=True)


def test_a_t4_gets_cuda_and_fp16(monkeypatch, capsys):
    monkeypatch.setenv("LLM_WORKSHOP_TIER", "smoke")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: None)
    rt = runtime.setup()
    assert rt.device.type == "cuda" and rt.dtype == torch.float16
    assert "device=cuda (Tesla T4), dtype=float16" in capsys.readouterr().out


@pytest.mark.parametrize(("capability", "dtype"), [((7, 5), torch.float16), ((8, 0), torch.bfloat16)])
def test_dtype_follows_compute_capability(monkeypatch, capability, dtype):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert runtime.choose_dtype(torch.device("cuda")) == dtype


def test_seeding_repeats_numbers():
    runtime.seed_everything(7)
    first = (torch.rand(3), __import__("numpy").random.rand(), __import__("random").random())
    runtime.seed_everything(7)
    second = (torch.rand(3), __import__("numpy").random.rand(), __import__("random").random())
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]


@pytest.mark.parametrize(
    "device, dtype, bf16, fp16",
    [("cpu", torch.float32, False, False), ("cuda", torch.float16, False, True), ("cuda", torch.bfloat16, True, False)],
)
def test_trainer_args_say_the_precision_of_the_runtime(device, dtype, bf16, fp16):
    rt = runtime.Runtime(tier="full", device=torch.device(device), dtype=dtype, offline=False, seed=7)
    args = runtime.trainer_args(rt)
    assert (args["bf16"], args["fp16"], args["use_cpu"]) == (bf16, fp16, device == "cpu")
    assert args["report_to"] == "none" and args["seed"] == args["data_seed"] == 7


def test_trainer_args_give_trl_an_fp32_run_on_a_cpu(tmp_path):  # TRL alone would turn bf16 on
    from trl import SFTConfig

    cpu = runtime.Runtime(tier="smoke", device=torch.device("cpu"), dtype=torch.float32, offline=True, seed=0)
    config = SFTConfig(output_dir=str(tmp_path), **runtime.trainer_args(cpu))
    assert config.bf16 is False and config.fp16 is False and config.use_cpu and config.report_to == []
    assert config.seed == config.data_seed == 0


def test_quiet_libraries_silences_bitsandbytes_missing_kernels_note(caplog):
    """On CPUs with AVX512-BF16, importing the Trainer (which imports bitsandbytes) logs a warning that the optional
    `kernels` package is missing; after setup's quiet_libraries it does not reach the notebook."""
    runtime.quiet_libraries()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("bitsandbytes.backends.cpu.ops").warning("Failed to load CPU gemm_4bit_forward")
        logging.getLogger("bitsandbytes").warning("other bitsandbytes warnings still show")
    assert [record.getMessage() for record in caplog.records] == ["other bitsandbytes warnings still show"]
