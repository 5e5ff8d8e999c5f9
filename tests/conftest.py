"""Test-wide settings: every notebook kernel inherits these (nbmake passes pytest's environment on)."""

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("LLM_WORKSHOP_TIER", "smoke")
os.environ.setdefault("LLM_WORKSHOP_CACHE", str(ROOT / "build" / "cache"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for var in ("LLM_WORKSHOP_REHEARSAL", "LLM_WORKSHOP_DTYPE"):  # `make rehearse` switches, never in the smoke suite
    os.environ.pop(var, None)
for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(var, "1")


# --- tiny random models for unit tests: factory fixtures, so a test asks for `tiny_gpt2` and calls it --------------


def _tiny_gpt2(vocab_size: int = 100, n_layer: int = 2, n_embd: int = 32, n_head: int = 2, n_positions: int = 32,
               seed: int = 0, **config):  # fmt: skip
    """A seeded random GPT-2 small enough for a unit test, in eval mode (`config` passes through to GPT2Config)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    gpt2_config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                             n_head=n_head, **config)  # fmt: skip
    return GPT2LMHeadModel(gpt2_config).eval()


def _tiny_qwen(heads: int = 4, kv_heads: int = 2, seed: int = 0, **config):
    """A seeded random 2-layer Qwen2 (64 wide, 300 tokens) with eager attention, so its weights can be read."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(seed)
    qwen_config = Qwen2Config(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                              num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=128,
                              **config)  # fmt: skip
    return AutoModelForCausalLM.from_config(qwen_config, attn_implementation="eager")


@pytest.fixture
def tiny_gpt2():
    """Factory: tiny_gpt2(vocab_size=..., n_layer=..., ...) -> a seeded random GPT2LMHeadModel in eval mode."""
    return _tiny_gpt2


@pytest.fixture
def tiny_qwen():
    """Factory: tiny_qwen(heads=..., kv_heads=...) -> a seeded random 2-layer Qwen2 with eager attention."""
    return _tiny_qwen


def _loud_qwen(tokenizer, seed: int, padding: int = 0):
    """A seeded random 1-layer Qwen2 over `tokenizer`'s vocabulary (plus `padding` unused outputs) with loud logits:
    unconstrained, it writes gibberish, so a constraint that makes its output valid is doing the work."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=len(tokenizer) + padding, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    model = AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    return model


@pytest.fixture
def loud_qwen():
    """Factory: loud_qwen(tokenizer, seed, padding=0) -> a random 1-layer Qwen2 whose free output is gibberish."""
    return _loud_qwen


@pytest.fixture(scope="session")
def qwen_tokenizer():
    """Qwen2.5-0.5B-Instruct's real tokenizer and chat template (shipped in assets/hub/)."""
    from transformers import AutoTokenizer

    from llm_workshop.course.data import HUB_ASSETS

    return AutoTokenizer.from_pretrained(HUB_ASSETS / "Qwen__Qwen2.5-0.5B-Instruct")
