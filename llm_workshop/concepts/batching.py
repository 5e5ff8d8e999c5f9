"""Serving many requests: static batching vs continuous (in-flight) batching, on real forward passes of a GPT-2.

Both schedulers drive the same engine: `paged_forward` runs one forward pass over the new tokens of many
sequences at once (a whole prompt for a sequence that just joined, one token for the others), keeping their keys
and values in a `PagedKVCache`. Greedy outputs equal each request decoded alone (tests/test_batching.py).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import torch

from llm_workshop.concepts.paged_kv import PagedKVCache, paged_attention


@dataclass(frozen=True)
class Request:
    """A prompt (token ids) and how many tokens to generate for it."""

    prompt: list[int]
    max_new_tokens: int


@dataclass
class BatchRun:
    """What a scheduler produced and what it cost."""

    outputs: list[list[int]]  # new tokens per request, in request order
    steps: int = 0  # forward passes
    rows: int = 0  # sequence-steps computed, padding rows included
    seconds: float = 0.0
    blocks_in_use: list[int] = field(default_factory=list)  # KV blocks held after each step
    tokens_stored: list[int] = field(default_factory=list)  # KV entries actually used after each step

    @property
    def new_tokens(self) -> int:
        return sum(len(out) for out in self.outputs)

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds


def _attention_scale(config, layer: int, head_dim: int) -> float:
    """GPT-2's attention scale: 1/sqrt(head_dim), optionally divided by layer + 1."""
    scale = head_dim**-0.5 if config.scale_attn_weights else 1.0
    return scale / (layer + 1) if config.scale_attn_by_inverse_layer_idx else scale


def new_cache(model, num_blocks: int, block_size: int = 16) -> PagedKVCache:
    """A paged KV cache shaped for `model` (a GPT-2), on its device and in its dtype."""
    if model.config.model_type != "gpt2":
        raise ValueError(f"the paged engine runs GPT-2-architecture models; got model_type {model.config.model_type!r}")
    config, weight = model.config, model.transformer.wte.weight
    return PagedKVCache(
        config.n_layer,
        config.n_head,
        config.n_embd // config.n_head,
        num_blocks,
        block_size,
        weight.dtype,
        weight.device,
    )


@torch.no_grad()
def paged_forward(model, cache: PagedKVCache, seqs: list, chunks: list[list[int]]) -> torch.Tensor:
    """One forward pass of a GPT-2 over the new tokens `chunks[i]` of each sequence `seqs[i]`, all flattened into
    one batch without padding; keys and values go to `cache`. Returns next-token logits, (len(seqs), vocab)."""
    tr, device = model.transformer, model.transformer.wte.weight.device
    starts = [cache.length(seq) for seq in seqs]
    slots = torch.cat([cache.reserve(seq, len(chunk)) for seq, chunk in zip(seqs, chunks)])
    positions = torch.cat([torch.arange(s, s + len(c)) for s, c in zip(starts, chunks)]).to(device)
    tokens = torch.tensor([t for chunk in chunks for t in chunk], device=device)
    ends = torch.tensor([len(c) for c in chunks]).cumsum(0).tolist()
    h = tr.wte(tokens) + tr.wpe(positions)
    for layer, block in enumerate(tr.h):
        attn = block.attn
        q, k, v = attn.c_attn(block.ln_1(h)).split(attn.embed_dim, dim=-1)
        q, k, v = (x.view(-1, attn.num_heads, attn.head_dim) for x in (q, k, v))
        cache.write(layer, slots, k, v)
        scale = _attention_scale(model.config, layer, attn.head_dim)
        outs = [
            paged_attention(q[end - len(chunk) : end], cache, layer, seq, scale)
            for seq, chunk, end in zip(seqs, chunks, ends)
        ]
        h = h + attn.c_proj(torch.cat(outs).flatten(1))
        h = h + block.mlp(block.ln_2(h))
    last = torch.tensor(ends, device=device) - 1
    return model.lm_head(tr.ln_f(h[last])).float()


def _require_valid(model, requests: list[Request], batch_size: int) -> None:
    if model.config.model_type != "gpt2":
        raise ValueError(f"the paged engine runs GPT-2-architecture models; got model_type {model.config.model_type!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for i, request in enumerate(requests):
        if not request.prompt or request.max_new_tokens < 1:
            raise ValueError(f"request {i} needs a non-empty prompt and max_new_tokens >= 1, got {request}")
    # a padded batch runs every row for the longest output, so the longest prompt must fit with the longest output
    needed = max(len(r.prompt) for r in requests) + max(r.max_new_tokens for r in requests)
    if needed > model.config.n_positions:
        raise ValueError(
            f"the longest prompt plus the longest output need {needed} positions but the model has "
            f"{model.config.n_positions}; shorten the prompts or max_new_tokens"
        )


def _blocks_for(requests: list[Request], batch_size: int, block_size: int) -> int:
    """Blocks enough for `batch_size` rows of the longest prompt plus the longest output."""
    needed = max(len(r.prompt) for r in requests) + max(r.max_new_tokens for r in requests)
    return batch_size * -(-needed // block_size)


def static_batching(model, requests: list[Request], batch_size: int, block_size: int = 16) -> BatchRun:
    """Requests in groups of `batch_size`; a group runs until its longest request ends, and rows that finished
    early keep being computed as padding (what a fixed-shape batch, like `generate()` on a padded batch, does)."""
    _require_valid(model, requests, batch_size)
    model.eval()
    cache = new_cache(model, _blocks_for(requests, batch_size, block_size), block_size)
    run = BatchRun(outputs=[[] for _ in requests])
    start = time.perf_counter()
    for first in range(0, len(requests), batch_size):
        group = list(range(first, min(first + batch_size, len(requests))))
        chunks = [requests[i].prompt for i in group]
        for _ in range(max(requests[i].max_new_tokens for i in group)):
            next_tokens = paged_forward(model, cache, group, chunks).argmax(-1).tolist()
            for i, token in zip(group, next_tokens):
                if len(run.outputs[i]) < requests[i].max_new_tokens:
                    run.outputs[i].append(token)
            chunks = [[token] for token in next_tokens]
            run.steps, run.rows = run.steps + 1, run.rows + len(group)
            run.blocks_in_use.append(cache.blocks_in_use)
            run.tokens_stored.append(sum(cache.length(i) for i in group))
        for i in group:
            cache.free(i)
    run.seconds = time.perf_counter() - start
    return run


def continuous_batching(model, requests: list[Request], batch_size: int, block_size: int = 16) -> BatchRun:
    """Iteration-level scheduling (Orca, vLLM): a finished request leaves the batch at once and a waiting one takes
    its place at the next step, its prompt processed in the same forward pass as the others' next tokens."""
    _require_valid(model, requests, batch_size)
    model.eval()
    cache = new_cache(model, _blocks_for(requests, batch_size, block_size), block_size)
    run = BatchRun(outputs=[[] for _ in requests])
    waiting, running, chunks = deque(range(len(requests))), [], {}
    start = time.perf_counter()
    while waiting or running:
        while waiting and len(running) < batch_size:  # admit new requests into free slots
            i = waiting.popleft()
            running.append(i)
            chunks[i] = requests[i].prompt
        next_tokens = paged_forward(model, cache, running, [chunks[i] for i in running]).argmax(-1).tolist()
        run.steps, run.rows = run.steps + 1, run.rows + len(running)
        for i, token in zip(list(running), next_tokens):
            run.outputs[i].append(token)
            chunks[i] = [token]
            if len(run.outputs[i]) == requests[i].max_new_tokens:
                running.remove(i)
                cache.free(i)
        run.blocks_in_use.append(cache.blocks_in_use)
        run.tokens_stored.append(sum(cache.length(i) for i in running))
    run.seconds = time.perf_counter() - start
    return run


def mixed_workload(
    text_ids: list[int], n_requests: int, seed: int = 0, prompt_range=(4, 32), output_range=(4, 160)
) -> list[Request]:
    """Requests whose prompts are random windows of `text_ids` and whose output lengths spread log-uniformly over
    `output_range`: most answers are short and a few are long, as in a chat service."""
    generator = torch.Generator().manual_seed(seed)
    low, high = torch.tensor(output_range, dtype=torch.float).log().tolist()
    requests = []
    for _ in range(n_requests):
        n_prompt = int(torch.randint(prompt_range[0], prompt_range[1] + 1, (1,), generator=generator))
        start = int(torch.randint(0, len(text_ids) - n_prompt, (1,), generator=generator))
        n_out = round(float(torch.empty(1).uniform_(low, high, generator=generator).exp()))
        requests.append(Request(list(text_ids[start : start + n_prompt]), n_out))
    return requests
