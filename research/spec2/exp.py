"""Build one research draft for 2.4's smoke target and measure it the notebook's way (issue 29, kernels item).

    python research/spec2/exp.py TARGET_DIR OUT_DIR [key=value ...]     # keys: the fields of `Recipe`

Prints the draft's build CPU seconds, alpha on the notebook's 3 prompts (48 greedy tokens each, as 2.4 measures it),
alpha on 40 further prompts (held-out news and book openings: a steadier estimate of the same thing), and the cost
ratio c (draft / target one-token cached pass, `speculative.seconds_per_pass`, best of 3, wall clock under load).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging

from llm_workshop.concepts import decoding, speculative
from llm_workshop.concepts.training import fit, random_rows
from llm_workshop.course.data import load_corpus, news_text
from llm_workshop.standins.distilgpt2 import greedy_continuations
from llm_workshop.standins.gpt2 import config
from llm_workshop.standins.gpt2_medium import train_ids

PROMPTS = ["Holmes looked at the door and said", "The government said on Tuesday that", "Police said the man"]


@dataclass
class Recipe:
    """Knobs of the draft build: main's recipe by default."""

    sequences: int = 256  # news prefixes the target continues greedily
    book: int = 0  # further prefixes from the book (the notebook's Holmes prompt's domain)
    windows: int = 256  # plain news windows labelled with the target's argmax
    prefix: int = 16
    gen: int = 48
    steps: int = 300
    batch: int = 16
    lr: float = 3e-3
    layers: int = 1
    width: int = 64
    heads: int = 2
    kd: float = 0.0  # weight of token-level KD (KL to the target's softmax at temperature `temp`)
    temp: float = 1.0
    slice: int = 0  # 1: start from the target's embeddings and first block(s) (width must be the target's)
    seed: int = 0


@torch.no_grad()
def continuations_with_logits(target, prefixes: torch.Tensor, n_new: int, chunk: int = 64):
    """(inputs, target logits at every position) for `prefixes` continued greedily, in chunks of rows."""
    inputs, logits = [], []
    for rows in prefixes.split(chunk):
        ids, _ = greedy_continuations(target, rows, n_new)
        inputs.append(ids)
        logits.append(target(input_ids=ids).logits.half())
    return torch.cat(inputs), torch.cat(logits)


def build(out: Path, target_dir: Path, r: Recipe) -> float:
    """Build the draft of `r` into `out`; return its CPU seconds."""
    start = time.process_time()
    torch.manual_seed(r.seed)
    target = AutoModelForCausalLM.from_pretrained(target_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(target_dir)
    draft = AutoModelForCausalLM.from_config(config(tokenizer, n_layer=r.layers, n_embd=r.width, n_head=r.heads))
    if r.slice:
        state = {k: v for k, v in target.state_dict().items() if not k.startswith("transformer.h.")}
        state |= {
            k: v
            for k, v in target.state_dict().items()
            if k.startswith(tuple(f"transformer.h.{i}." for i in range(r.layers)))
        }
        draft.load_state_dict(state)
    ids = train_ids(tokenizer)
    length = r.prefix + r.gen - 1
    g = torch.Generator().manual_seed(0)
    starts = torch.randint(0, len(ids) - length, (r.sequences,), generator=g)
    prefixes = [ids[s : s + r.prefix] for s in starts]
    if r.book:
        book = torch.tensor(tokenizer(load_corpus()[:200_000])["input_ids"])
        starts = torch.randint(0, len(book) - r.prefix, (r.book,), generator=g)
        prefixes += [book[s : s + r.prefix] for s in starts]
    inputs, logits = continuations_with_logits(target, torch.stack(prefixes), r.gen)
    if r.windows:
        starts = torch.randint(0, len(ids) - length, (r.windows,), generator=g)
        windows = torch.stack([ids[s : s + length] for s in starts])
        with torch.no_grad():
            logits = torch.cat([logits, target(input_ids=windows).logits.half()])
        inputs = torch.cat([inputs, windows])
    labels = logits.argmax(-1)

    def loss_fn(model, rows: torch.Tensor) -> torch.Tensor:
        out = model(input_ids=inputs[rows]).logits.flatten(0, 1)
        loss = F.cross_entropy(out, labels[rows].flatten())
        if r.kd:
            soft = (logits[rows].flatten(0, 1).float() / r.temp).log_softmax(-1)
            kl = F.kl_div((out / r.temp).log_softmax(-1), soft, log_target=True, reduction="batchmean")
            loss = loss + r.kd * r.temp**2 * kl
        return loss

    fit(draft, random_rows(len(inputs), r.steps, r.batch, seed=0), r.steps, lr=r.lr, loss_fn=loss_fn)
    seconds = time.process_time() - start
    draft.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return seconds


@torch.no_grad()
def measure(target, draft, tokenizer) -> dict:
    """alpha on the notebook's prompts, alpha on 40 more, and the cost ratio c."""
    prompts = [tokenizer(p, return_tensors="pt")["input_ids"] for p in PROMPTS]
    greedy = [decoding.generate(target, p, 48) for p in prompts]
    per_prompt = [speculative.greedy_acceptance(draft, out, p.shape[1]) for out, p in zip(greedy, prompts)]
    news = news_text()
    held = torch.tensor(tokenizer(news[int(0.9 * len(news)) :])["input_ids"])
    book = torch.tensor(tokenizer(load_corpus()[300_000:400_000])["input_ids"])
    more = [held[i * 40 : i * 40 + 8] for i in range(20)] + [book[i * 997 : i * 997 + 8] for i in range(20)]
    ids, _ = greedy_continuations(target, torch.stack(more), 48)
    guesses = draft(input_ids=ids).logits[:, 7:-1].argmax(-1)
    wide = (guesses == ids[:, 8:]).float().mean(1)
    stretch = torch.cat([greedy[1], greedy[2][:, 1:]], dim=1)
    costs = speculative.seconds_per_pass({"draft": (draft, 1), "target": (target, 1)}, stretch, repeats=3)
    return {
        "alpha": sum(per_prompt) / 3, "per_prompt": [round(a, 3) for a in per_prompt],
        "alpha_news": wide[:20].mean().item(), "alpha_book": wide[20:].mean().item(),
        "c": costs["draft"] / costs["target"],
    }  # fmt: skip


def main() -> None:
    target_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    kinds = {f.name: type(f.default) for f in fields(Recipe)}
    r = Recipe(**{k: kinds[k](v) for k, v in (a.split("=") for a in sys.argv[3:])})
    logging.set_verbosity_error()
    torch.set_num_threads(1)
    seconds = build(out, target_dir, r)
    target = AutoModelForCausalLM.from_pretrained(target_dir).eval()
    draft = AutoModelForCausalLM.from_pretrained(out).eval()
    result = {"recipe": " ".join(sys.argv[3:]) or "main", "build_cpu_s": round(seconds, 1)}
    result |= {
        k: round(v, 3) if isinstance(v, float) else v
        for k, v in measure(target, draft, AutoTokenizer.from_pretrained(target_dir)).items()
    }
    result["capability"] = torch.backends.cpu.get_cpu_capability()
    print(json.dumps(result))
    (out / "result.json").write_text(json.dumps(result | {"full": asdict(r)}))


if __name__ == "__main__":
    main()
