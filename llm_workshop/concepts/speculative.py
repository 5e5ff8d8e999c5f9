"""Speculative decoding written out: a small draft model proposes `k` tokens, the target checks them in one pass.

Greedy: the output is the target's own greedy output, token for token, and the same as transformers' assisted
generation (`generate(..., assistant_model=draft)`). Sampling: the accept/reject rule of Leviathan et al. (2023)
and Chen et al. (2023) keeps the target's distribution exactly (tests/test_speculative.py checks both).
Whether it pays in wall-clock time depends on the acceptance rate and on what a draft pass and a verifying pass cost
next to a plain target pass: `greedy_acceptance`, `seconds_per_pass` and `predicted_speedup` measure and combine them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from llm_workshop.concepts.decoding import cache_argument


@dataclass
class SpeculativeStats:
    """What one speculative run did: tokens drafted (one draft forward pass each) and accepted, target passes."""

    new_tokens: int = 0
    drafted: int = 0
    accepted: int = 0
    target_calls: int = 0

    @property
    def acceptance_rate(self) -> float:
        """Fraction of drafted tokens the target kept."""
        return self.accepted / self.drafted if self.drafted else 0.0

    @property
    def target_calls_saved(self) -> int:
        """Target forward passes saved: plain decoding needs one per new token."""
        return self.new_tokens - self.target_calls


# --- the acceptance rule -----------------------------------------------------------------------------


def accept_probability(p: torch.Tensor, q: torch.Tensor, token: int) -> float:
    """Probability of keeping a drafted `token`: min(1, p(token) / q(token)), p the target's and q the draft's."""
    return min(1.0, (p[token] / q[token]).item())


def residual_distribution(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """What to sample after a rejection: max(p - q, 0) renormalised (p itself where p <= q everywhere, i.e. p = q)."""
    residual = (p - q).clamp(min=0)
    total = residual.sum(-1, keepdim=True)
    return torch.where(total > 0, residual / total.clamp(min=1e-30), p)


def verify_sampled(
    p: torch.Tensor, q: torch.Tensor, drafted: list[int], generator: torch.Generator | None = None
) -> list[int]:
    """The Leviathan/Chen rule for one round: keep drafted token i with probability min(1, p_i/q_i); at the first
    rejection draw a replacement from the residual and stop; if all k are kept, draw a bonus token from p_k.

    p: (k + 1, vocab) target probabilities, q: (k, vocab) draft probabilities, both on the CPU like `generator`.
    Returns the new tokens (1 to k + 1).
    """
    out = []
    for i, token in enumerate(drafted):
        u = torch.rand((), generator=generator).item()
        if u < accept_probability(p[i], q[i], token):
            out.append(token)
            continue
        out.append(int(torch.multinomial(residual_distribution(p[i], q[i]), 1, generator=generator)))
        return out
    out.append(int(torch.multinomial(p[len(drafted)], 1, generator=generator)))
    return out


def verify_greedy(target_logits: torch.Tensor, drafted: list[int]) -> list[int]:
    """Greedy verification: keep drafted tokens while they equal the target's argmax, then add the target's own token."""
    choices = target_logits.argmax(dim=-1).tolist()  # k + 1 target choices, one per position
    n = 0
    while n < len(drafted) and drafted[n] == choices[n]:
        n += 1
    return drafted[:n] + [choices[n]]


# --- the generation loop -----------------------------------------------------------------------------


class _CachedModel:
    """A causal LM with its own KV cache: feeds only the tokens the cache has not seen, can roll the cache back."""

    def __init__(self, model):
        self.model = model
        self.cache = DynamicCache(config=model.config)
        self.cache_argument = cache_argument(model)  # `cache` in transformers 5.24, `past_key_values` before

    def logits(self, ids: torch.Tensor, n_last: int) -> torch.Tensor:
        """Logits of the last `n_last` positions of `ids` (1, n), shape (n_last, vocab), in float32."""
        new = ids[:, self.cache.get_seq_length() :]
        cached = {self.cache_argument: self.cache}
        out = self.model(input_ids=new, use_cache=True, logits_to_keep=n_last, **cached)
        return out.logits[0].float()

    def rollback(self, length: int) -> None:
        """Forget cached positions from `length` on (rejected drafts); a negative crop works on every transformers 5."""
        extra = self.cache.get_seq_length() - length
        if extra > 0:
            self.cache.crop(-extra)


def vocab_size(model) -> int:
    """Size of a model's output vocabulary, from its (text) config."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return config.vocab_size


def require_same_vocabulary(target_tokenizer, draft_tokenizer) -> None:
    """Raise ValueError unless draft and target use the same vocabulary (token -> id), which the method requires."""
    if target_tokenizer.get_vocab() != draft_tokenizer.get_vocab():
        raise ValueError(
            "draft and target tokenizers differ (the same id means different text), so drafted ids mean nothing to "
            "the target; use a draft from the target's own model family, e.g. distilgpt2 for gpt2-medium"
        )


def _validate(target, draft, input_ids: torch.Tensor, max_new_tokens: int, k: int, do_sample: bool, temperature):
    if vocab_size(target) != vocab_size(draft):
        raise ValueError(
            f"draft and target must share one tokenizer, but the draft has {vocab_size(draft)} output tokens and the "
            f"target {vocab_size(target)}; use a draft from the target's own model family"
        )
    if k < 1:
        raise ValueError(f"k (tokens drafted per round) must be >= 1, got {k}")
    if input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(
            f"speculative decoding here takes one prompt at a time (batch size 1, like transformers' assisted "
            f"generation); got input_ids of shape {tuple(input_ids.shape)}, so loop over the prompts"
        )
    if input_ids.shape[1] == 0:
        raise ValueError("the prompt is empty; give at least one token (e.g. the tokenizer's bos/eos token)")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if do_sample and not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}; use do_sample=False for greedy decoding")


@torch.no_grad()
def speculative_generate(
    target,
    draft,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    k: int = 4,
    do_sample: bool = False,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    eos_token_id: int | None = None,
) -> tuple[torch.Tensor, SpeculativeStats]:
    """Continue one prompt by up to `max_new_tokens` tokens; returns (prompt + new tokens of shape (1, n), stats).

    Each round the draft proposes up to `k` tokens one by one and the target scores all of them in one forward
    pass. Greedy (`do_sample=False`) keeps the drafts that equal the target's argmax; sampling applies
    `verify_sampled` with both distributions at `temperature`. Stops after `eos_token_id` (kept in the output).
    """
    input_ids = input_ids.unsqueeze(0) if input_ids.dim() == 1 else input_ids
    _validate(target, draft, input_ids, max_new_tokens, k, do_sample, temperature)
    target.eval()
    draft.eval()
    ids = input_ids.to(next(target.parameters()).device)
    verifier, drafter = _CachedModel(target), _CachedModel(draft)
    stats = SpeculativeStats()
    while stats.new_tokens < max_new_tokens:
        n_draft = min(k, max_new_tokens - stats.new_tokens - 1)  # leave room for the target's own token
        drafted, draft_probs, extended = [], [], ids
        for _ in range(n_draft):
            logits = drafter.logits(extended, 1)[-1]
            if do_sample:  # sampling runs on the CPU, so one CPU generator serves any device
                draft_probs.append((logits / temperature).softmax(-1).cpu())
                token = int(torch.multinomial(draft_probs[-1], 1, generator=generator))
            else:
                token = int(logits.argmax())
            drafted.append(token)
            extended = torch.cat([extended, extended.new_tensor([[token]])], dim=1)
        target_logits = verifier.logits(extended, n_draft + 1)  # every drafted position plus one, in one pass
        if do_sample:
            p = (target_logits / temperature).softmax(-1).cpu()
            q = torch.stack(draft_probs) if draft_probs else p[:0]
            new = verify_sampled(p, q, drafted, generator)
        else:
            new = verify_greedy(target_logits, drafted)
        stats.drafted += n_draft
        stats.accepted += len(new) - 1  # every token but the last one is a kept draft
        if eos_token_id is not None and eos_token_id in new:
            new = new[: new.index(eos_token_id) + 1]
        stats.target_calls += 1
        stats.new_tokens += len(new)
        ids = torch.cat([ids, ids.new_tensor([new])], dim=1)
        if eos_token_id is not None and new[-1] == eos_token_id:
            break
        verifier.rollback(ids.shape[1] - 1)  # the last token is fed next round; rejected drafts are forgotten
        drafter.rollback(ids.shape[1] - 1)
    return ids, stats


def expected_tokens_per_round(alpha: float, k: int) -> float:
    """Expected new tokens per target pass when each draft is accepted with probability `alpha`: (1 - a^(k+1)) / (1 - a)."""
    if alpha >= 1:
        return float(k + 1)
    return (1 - alpha ** (k + 1)) / (1 - alpha)


# --- what the wall clock depends on --------------------------------------------------------------------


@torch.no_grad()
def greedy_acceptance(draft, target_output: torch.Tensor, prompt_len: int) -> float:
    """Fraction of the target's greedy tokens in `target_output` (1, n) after its first `prompt_len` that the draft
    would have proposed itself, given the same prefix: the per-token acceptance rate alpha of greedy drafting."""
    if not 0 < prompt_len < target_output.shape[1]:
        raise ValueError(f"prompt_len must be between 1 and {target_output.shape[1] - 1}, got {prompt_len}")
    guesses = draft(input_ids=target_output).logits[0, prompt_len - 1 : -1].argmax(-1)
    return (guesses == target_output[0, prompt_len:]).float().mean().item()


@torch.no_grad()
def seconds_per_pass(passes: dict, ids: torch.Tensor, start: int = 8, repeats: int = 5) -> dict:
    """Mean seconds of one cached forward pass for every `name: (model, n_new)` in `passes`, as the loop meets them:
    `n_new` new tokens per pass, the context growing one token per pass from `start` along `ids` (1, n), the cache
    cropped back after each pass as after a round whose first draft was rejected. At every context length the passes
    take turns, so that all meet the same load on the machine; each is timed `repeats` times and its fastest kept."""
    n_max = max(n_new for _, n_new in passes.values())
    if not 0 < start < ids.shape[1] - n_max:
        raise ValueError(f"ids of length {ids.shape[1]} leave no pass of {n_max} tokens after start={start}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    positions = range(start - 1, ids.shape[1] - n_max)
    best = {name: torch.full((len(positions),), float("inf")) for name in passes}
    for _ in range(repeats):
        caches = {name: DynamicCache(config=model.config) for name, (model, _) in passes.items()}
        for name, (model, _) in passes.items():
            model(input_ids=ids[:, : start - 1], use_cache=True, **{cache_argument(model): caches[name]})
        for j, p in enumerate(positions):
            for name, (model, n_new) in passes.items():
                cached = {cache_argument(model): caches[name], "use_cache": True}
                begin = time.perf_counter()
                model(input_ids=ids[:, p : p + n_new], logits_to_keep=n_new, **cached)
                best[name][j] = min(best[name][j].item(), time.perf_counter() - begin)
                if n_new > 1:
                    caches[name].crop(-(n_new - 1))
    return {name: seconds.mean().item() for name, seconds in best.items()}


def predicted_speedup(alpha: float, c: float, k: int, verify_cost: float = 1.0) -> float:
    """Wall-clock speed-up over plain decoding: tokens per round / cost of a round in target passes,
    E(alpha, k) / (c k + verify_cost). With verify_cost = 1 this is Leviathan et al.'s Theorem 3.8."""
    if not 0 <= alpha <= 1 or c <= 0 or k < 1 or verify_cost <= 0:
        raise ValueError(
            f"need 0 <= alpha <= 1, c > 0, k >= 1 and verify_cost > 0; got {alpha=}, {c=}, {k=}, {verify_cost=}"
        )
    return expected_tokens_per_round(alpha, k) / (c * k + verify_cost)
