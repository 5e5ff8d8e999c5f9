"""The smoke `distilgpt2`, the speculative-decoding draft of 2.4: a GPT-2 of 1 layer, 64 wide (~0.2M parameters),
distilled from the smoke target on sequences the target wrote itself.

Sequence-level knowledge distillation (Kim and Rush 2016): short news prefixes (as short as 2.4's prompts) are
continued greedily by the target, and the draft learns the target's argmax at every position of them (plus plain
news windows, labelled the same way). That is exactly what greedy speculative decoding asks the draft to predict, so
it agrees with the target far more often than a draft trained on the news text itself. Short prefixes, and many
of them, raise the agreement on targets built with other CPU kernels (AVX2, scalar), whose greedy text differs.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, PreTrainedModel

from llm_workshop.concepts.decoding import cache_argument
from llm_workshop.concepts.training import fit, random_rows
from llm_workshop.standins.gpt2 import config
from llm_workshop.standins.gpt2_medium import train_ids

SEQUENCES, WINDOWS, PREFIX_LEN, GEN_LEN, STEPS, BATCH_SIZE = 512, 256, 6, 58, 500, 16


@torch.no_grad()
def greedy_continuations(model: PreTrainedModel, prefixes: torch.Tensor, n_new: int) -> tuple[torch.Tensor, ...]:
    """(inputs, labels): each row of `prefixes` continued greedily by `model` with a KV cache, and the model's argmax
    next token at every position of it (for the continuation: the next token itself)."""
    cached = {cache_argument(model): DynamicCache(config=model.config), "use_cache": True}
    inputs, labels = [prefixes], [model(input_ids=prefixes, **cached).logits.argmax(-1)]
    for _ in range(n_new - 1):
        inputs.append(labels[-1][:, -1:])
        labels.append(model(input_ids=inputs[-1], **cached).logits.argmax(-1))
    return torch.cat(inputs, dim=1), torch.cat(labels, dim=1)


def distillation_set(target: PreTrainedModel, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels): `SEQUENCES` random prefixes of `ids` continued greedily by the target, and `WINDOWS` random
    windows of `ids` of the same length; every position labelled with the target's argmax next token."""
    length = PREFIX_LEN + GEN_LEN - 1
    generator = torch.Generator().manual_seed(0)
    starts = torch.randint(0, len(ids) - length, (SEQUENCES,), generator=generator)
    inputs, labels = greedy_continuations(target, torch.stack([ids[s : s + PREFIX_LEN] for s in starts]), GEN_LEN)
    starts = torch.randint(0, len(ids) - length, (WINDOWS,), generator=generator)
    windows = torch.stack([ids[s : s + length] for s in starts])
    with torch.no_grad():
        window_labels = target(input_ids=windows).logits.argmax(-1)
    return torch.cat([inputs, windows]), torch.cat([labels, window_labels])


def build(out: Path, target_dir: Path) -> None:
    """Distil the target saved in `target_dir` into a 1-layer draft for `STEPS` steps and save it into `out`."""
    torch.manual_seed(0)
    target = AutoModelForCausalLM.from_pretrained(target_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(target_dir)
    draft = AutoModelForCausalLM.from_config(config(tokenizer, n_layer=1, n_embd=64, n_head=2))
    inputs, labels = distillation_set(target, train_ids(tokenizer))

    def loss_fn(model: PreTrainedModel, rows: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(input_ids=inputs[rows]).logits.flatten(0, 1), labels[rows].flatten())

    fit(draft, random_rows(len(inputs), STEPS, BATCH_SIZE, seed=0), STEPS, lr=3e-3, loss_fn=loss_fn)
    draft.save_pretrained(out)
    tokenizer.save_pretrained(out)
