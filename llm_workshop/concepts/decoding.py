"""Decoding written out: greedy, sampling (temperature, top-k, top-p, repetition penalty) and beam search.

`generate()` is a plain loop over the model's forward pass (logits -> processors -> choice) with an
optional KV cache. Greedy and beam search return the same tokens as `model.generate(do_sample=False)`;
each processor returns the same scores as its transformers counterpart (tests/test_decoding.py).
"""

from __future__ import annotations

import inspect

import torch
from transformers import DynamicCache

STRATEGIES = ("greedy", "sample", "beam")


def generation_kwargs(
    pad_token_id: int | None, eos_token_id: int | list[int] | None, temperature: float | None = None
) -> dict:
    """`model.generate()` settings that leave nothing to the checkpoint's generation_config: truly greedy when
    `temperature` is None, else plain sampling at that temperature (no top-k, no top-p); never a repetition penalty.

    `do_sample=False` alone is not enough: transformers fills every setting left unset from the checkpoint, and
    Qwen2.5's samples with top-k 20, top-p 0.8 and repetition_penalty=1.1, which greedy decoding would still apply.
    Pad and end-of-sequence ids are explicit (GPT-2 has no pad token).
    """
    if temperature is not None and not temperature > 0:
        raise ValueError(f"temperature must be > 0, or None for greedy decoding; got {temperature}")
    if temperature is None:  # greedy ignores these three; the library's neutral values replace Qwen's sampling ones
        sampling = {"do_sample": False, "temperature": 1.0, "top_k": 50, "top_p": 1.0}
    else:
        sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
    return {
        **sampling,
        "num_beams": 1,
        "repetition_penalty": 1.0,
        "pad_token_id": pad_token_id,
        "eos_token_id": eos_token_id,
    }


# --- logits processors: each takes next-token scores of shape (batch, vocab) ----------------------


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by `temperature`: below 1 sharpens the distribution, above 1 flattens it."""
    if not temperature > 0:
        raise ValueError(
            f"temperature must be > 0, got {temperature}; use strategy='greedy' for a deterministic choice"
        )
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int, filter_value: float = -float("inf")) -> torch.Tensor:
    """Keep the `k` highest logits (ties with the k-th are kept too) and set the rest to `filter_value`; k=0 keeps all."""
    if k < 0:
        raise ValueError(f"top_k must be >= 0 (0 switches it off), got {k}")
    if k == 0:
        return logits
    kth_largest = torch.topk(logits, min(k, logits.size(-1))).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, filter_value)


def top_p_filter(
    logits: torch.Tensor, p: float, min_tokens_to_keep: int = 1, filter_value: float = -float("inf")
) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probabilities sum to at least `p`."""
    if not 0 < p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {p}; 1 keeps every token")
    if p == 1:
        return logits
    sorted_logits, sorted_indices = torch.sort(logits, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= 1 - p  # the unlikely tail whose mass is at most 1 - p
    remove_sorted[..., -min_tokens_to_keep:] = False
    remove = remove_sorted.scatter(-1, sorted_indices, remove_sorted)
    return logits.masked_fill(remove, filter_value)


def apply_repetition_penalty(logits: torch.Tensor, input_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make every token already in `input_ids` less likely: positive scores are divided by `penalty`, negative multiplied."""
    if not penalty > 0:
        raise ValueError(f"repetition_penalty must be > 0 (1 switches it off), got {penalty}")
    if penalty == 1:
        return logits
    seen = torch.gather(logits, 1, input_ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits.scatter(1, input_ids, seen)


def process_logits(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
) -> torch.Tensor:
    """All processors in the order transformers applies them: repetition penalty, temperature, top-k, top-p."""
    logits = apply_repetition_penalty(logits, input_ids, repetition_penalty)
    if temperature != 1.0:
        logits = apply_temperature(logits, temperature)
    return top_p_filter(top_k_filter(logits, top_k), top_p)


# --- the generation loop -----------------------------------------------------------------------


def cache_argument(model) -> str:
    """The keyword under which `model.forward` takes a KV cache: `cache` where transformers has renamed it (5.24
    deprecates `past_key_values`), `past_key_values` in older releases such as Colab's 5.15."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class _Forward:
    """Next-token logits of a model, with or without a KV cache (only the new token is fed when cached)."""

    def __init__(self, model, use_cache: bool):
        self.model, self.use_cache = model, use_cache
        self.cache = DynamicCache(config=model.config) if use_cache else None
        self.cache_argument = cache_argument(model)

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if self.use_cache:
            new = ids[:, self.cache.get_seq_length() :]  # the whole prompt first, then one token per step
            cached = {self.cache_argument: self.cache}
            out = self.model(input_ids=new, use_cache=True, logits_to_keep=1, **cached)
        else:
            out = self.model(input_ids=ids, use_cache=False, logits_to_keep=1)
        return out.logits[:, -1, :].float()

    def reorder(self, beam_idx: torch.Tensor) -> None:
        """Beam search: row i of the cache must now hold the keys/values of beam `beam_idx[i]`."""
        if self.use_cache:
            self.cache.reorder_cache(beam_idx)


def _validate(input_ids, max_new_tokens, strategy, num_beams, temperature, top_k, top_p, repetition_penalty):
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(
            f"input_ids must be one prompt, shape (seq_len,) or (1, seq_len); got {tuple(input_ids.shape)}"
        )
    if input_ids.shape[1] == 0:
        raise ValueError("the prompt is empty; give at least one token (e.g. the tokenizer's bos/eos token)")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if num_beams < 1:
        raise ValueError(f"num_beams must be >= 1, got {num_beams}")
    if not temperature > 0:
        raise ValueError(
            f"temperature must be > 0, got {temperature}; use strategy='greedy' for a deterministic choice"
        )
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}; 1 keeps every token")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 switches it off), got {top_k}")
    if not repetition_penalty > 0:
        raise ValueError(f"repetition_penalty must be > 0 (1 switches it off), got {repetition_penalty}")
    if strategy != "beam" and num_beams != 1:
        raise ValueError(f"num_beams={num_beams} needs strategy='beam'")
    if strategy != "sample" and (temperature != 1.0 or top_k != 0 or top_p != 1.0):
        raise ValueError("temperature, top_k and top_p only change sampling; pass strategy='sample' to use them")


@torch.no_grad()
def generate(
    model,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    strategy: str = "greedy",
    num_beams: int = 1,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    length_penalty: float = 1.0,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    eos_token_id: int | None = None,
) -> torch.Tensor:
    """Continue one prompt by up to `max_new_tokens` tokens; returns prompt + new tokens, shape (1, n).

    strategy: "greedy" (most likely token), "sample" (draw from the processed distribution, with
    `generator` or the global torch RNG) or "beam" (`num_beams` hypotheses, scores divided by
    length**length_penalty). Stops early after `eos_token_id` (kept in the output).
    """
    input_ids = input_ids.unsqueeze(0) if input_ids.dim() == 1 else input_ids
    _validate(input_ids, max_new_tokens, strategy, num_beams, temperature, top_k, top_p, repetition_penalty)
    model.eval()
    input_ids = input_ids.to(next(model.parameters()).device)
    forward = _Forward(model, use_cache)
    if strategy == "beam":
        return _beam_search(
            forward, input_ids, max_new_tokens, num_beams, repetition_penalty, length_penalty, eos_token_id
        )
    ids = input_ids
    for _ in range(max_new_tokens):
        scores = process_logits(forward(ids), ids, temperature, top_k, top_p, repetition_penalty)
        if strategy == "sample":
            next_token = _draw(scores.softmax(dim=-1), generator)
        else:
            next_token = scores.argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, next_token], dim=-1)
        if eos_token_id is not None and next_token.item() == eos_token_id:
            break
    return ids


def _draw(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row from `probs`, drawn on the generator's device and returned on the device of `probs`:
    a seeded CPU generator also serves a model on CUDA (multinomial refuses a generator on another device)."""
    if generator is None:
        return torch.multinomial(probs, num_samples=1)
    return torch.multinomial(probs.to(generator.device), num_samples=1, generator=generator).to(probs.device)


def _beam_search(
    forward: _Forward,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    num_beams: int,
    repetition_penalty: float,
    length_penalty: float,
    eos_token_id: int | None,
) -> torch.Tensor:
    """Beam search as transformers does it (early_stopping=False): keep `num_beams` running hypotheses,
    finish a hypothesis at EOS or at the length limit, stop when no running beam can beat the finished ones."""
    running = input_ids.repeat(num_beams, 1)
    running_scores = torch.full((num_beams,), -1e9, device=input_ids.device)
    running_scores[0] = 0.0  # all beams start identical: expand only the first one at step 1
    finished: list[tuple[float, torch.Tensor]] = []  # (score / length**length_penalty, sequence), best first
    can_improve = True
    for step in range(max_new_tokens):
        log_probs = torch.log_softmax(forward(running), dim=-1)
        log_probs = apply_repetition_penalty(log_probs, running, repetition_penalty)
        vocab = log_probs.shape[-1]
        totals = (log_probs + running_scores[:, None]).view(-1)
        # 2 x num_beams candidates, so that num_beams remain running even if some of them end in EOS
        cand_scores, cand_index = torch.topk(totals, 2 * num_beams)
        cand_beam, cand_token = cand_index // vocab, cand_index % vocab
        length = step + 1  # new tokens in every candidate
        last_step = step == max_new_tokens - 1
        next_beams, next_tokens, next_scores = [], [], []
        for rank in range(2 * num_beams):
            beam, token, score = cand_beam[rank], cand_token[rank], cand_scores[rank]
            if last_step or (eos_token_id is not None and token.item() == eos_token_id):
                if rank < num_beams and can_improve:  # only a top-num_beams candidate may finish
                    sequence = torch.cat([running[beam], token.view(1)])
                    finished.append(((score / length**length_penalty).item(), sequence))
            elif len(next_beams) < num_beams:
                next_beams.append(beam)
                next_tokens.append(token)
                next_scores.append(score)
        finished = sorted(finished, key=lambda item: item[0], reverse=True)[:num_beams]
        if last_step:
            break
        beam_idx = torch.stack(next_beams)
        running = torch.cat([running[beam_idx], torch.stack(next_tokens)[:, None]], dim=-1)
        running_scores = torch.stack(next_scores)
        forward.reorder(beam_idx)
        # can the best running beam still beat the worst of num_beams finished hypotheses?
        best_possible = (running_scores[0] / length**length_penalty).item()
        can_improve = len(finished) < num_beams or best_possible > finished[-1][0]
        if not can_improve:
            break
    return finished[0][1].unsqueeze(0)
