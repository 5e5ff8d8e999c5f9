"""The smoke `chat` model: a tiny Qwen2-architecture chat model with the ChatML template that can copy from its context.

A 0.5M-parameter model pre-trained for a few hundred steps on news does not find an induction head by itself (see
`concepts.induction`); this one is given previous-token heads by hand in layer 0 and pre-trained on text that rewards
copying (repeated spans, key-value recall) beside news and random SQL, so that the smoke tier can show the in-context
lessons: copying a city name from a question into SQL, or a label word from few-shot examples.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, Qwen2Config

from llm_workshop.concepts.induction import FIRST_ORDINARY_ID
from llm_workshop.concepts.sql.shop import SCHEMA_BRIEF
from llm_workshop.concepts.training import fit
from llm_workshop.course.data import news_text
from llm_workshop.standins.tokenizer import smoke_tokenizer


def set_previous_token_heads(model: PreTrainedModel, offsets: Sequence[int] = (1, 2), gap: float = 8.0) -> None:
    """Make query head h of a Qwen2 model's first layer attend `offsets[h]` tokens back, by a softmax margin ≈ `gap`.

    Rotary embeddings turn a fixed query and key into a score that depends only on the distance between positions:
    the key bias is the query bias rotated by one position, and head h's query is rotated back by `offsets[h] - 1`
    more. All heads set here share key/value head 0, so `offsets` may have at most `num_attention_heads //
    num_key_value_heads` entries. Their value and output weights stay random and are learned.
    """
    attention = model.model.layers[0].self_attn
    head_dim, group = attention.head_dim, model.config.num_attention_heads // model.config.num_key_value_heads
    if not 1 <= len(offsets) <= group or min(offsets) < 1:
        raise ValueError(f"offsets must be 1 to {group} distances of at least 1 token (heads sharing key head 0)")
    inv_freq = model.model.rotary_emb.inv_freq.float()
    n_freq = 4  # the fastest-turning frequencies separate neighbouring positions best
    amplitude = (gap * head_dim**0.5 / (1 - inv_freq[:n_freq].cos()).sum()).sqrt()
    query = torch.zeros(head_dim)
    query[:n_freq] = amplitude

    def rotate(vector: torch.Tensor, steps: int) -> torch.Tensor:  # RoPE by `steps` positions (rotate-half layout)
        angle = torch.cat([inv_freq, inv_freq]) * steps
        half = head_dim // 2
        return vector * angle.cos() + torch.cat([-vector[half:], vector[:half]]) * angle.sin()

    with torch.no_grad():
        attention.k_proj.weight[:head_dim] = 0
        attention.k_proj.bias[:head_dim] = rotate(query, 1)
        for head, offset in enumerate(offsets):
            rows = slice(head * head_dim, (head + 1) * head_dim)
            attention.q_proj.weight[rows] = 0
            attention.q_proj.bias[rows] = rotate(query, 1 - offset)


def repeated_row(generator: torch.Generator, seq_len: int, vocab_size: int) -> torch.Tensor:
    """A random span of 6-32 tokens repeated to fill `seq_len`: after one period, every token can be copied."""
    length = int(torch.randint(6, 33, (1,), generator=generator))
    span = torch.randint(FIRST_ORDINARY_ID, vocab_size, (length,), generator=generator)
    return span.repeat(seq_len // length + 1)[:seq_len]


def recall_row(
    generator: torch.Generator,
    seq_len: int,
    words: Sequence[int],
    separators: Sequence[list[int]],
    ends: Sequence[list[int]],
) -> torch.Tensor:
    """Key-value pairs ("key sep value end"), then the same pairs shuffled: each value recalled from its key.

    Keys and values are one or two word tokens; the separator and end mark are drawn once per row, so only the key
    tells which value follows — the two-token context the layer-0 heads provide.
    """

    def pick(options: Sequence) -> object:
        return options[int(torch.randint(0, len(options), (1,), generator=generator))]

    separator, end = pick(separators), pick(ends)
    pairs: list[list[int]] = []
    while sum(map(len, pairs)) < seq_len // 2:
        key = [pick(words) for _ in range(int(torch.randint(1, 3, (1,), generator=generator)))]
        value = [pick(words) for _ in range(int(torch.randint(1, 3, (1,), generator=generator)))]
        pairs.append(key + separator + value + end)
    order = torch.randperm(len(pairs), generator=generator).tolist()
    row = [t for pair in pairs for t in pair] + [t for i in order for t in pairs[i]]
    return torch.tensor((row * 2)[:seq_len])


def spliced_row(generator: torch.Generator, ids: torch.Tensor, seq_len: int, vocab_size: int) -> torch.Tensor:
    """A window of `ids` in which one span (random tokens or another window) occurs twice, as repeats do in text."""
    row = random_window(generator, ids, seq_len)
    length = int(torch.randint(4, seq_len // 2 - 4, (1,), generator=generator))
    first = int(torch.randint(0, seq_len - 2 * length + 1, (1,), generator=generator))
    second = int(torch.randint(first + length, seq_len - length + 1, (1,), generator=generator))
    if torch.rand(1, generator=generator).item() < 0.5:
        span = torch.randint(FIRST_ORDINARY_ID, vocab_size, (length,), generator=generator)
    else:
        span = random_window(generator, ids, length)
    row[first : first + length] = span
    row[second : second + length] = span
    return row


def random_window(generator: torch.Generator, ids: torch.Tensor, length: int) -> torch.Tensor:
    """A copy of `length` consecutive tokens of `ids` starting at a random position."""
    start = int(torch.randint(0, len(ids) - length, (1,), generator=generator))
    return ids[start : start + length].clone()


def pretraining_batches(
    text_ids: torch.Tensor,
    sql_ids: torch.Tensor,
    words: Sequence[int],
    separators: Sequence[list[int]],
    ends: Sequence[list[int]],
    vocab_size: int,
    steps: int,
    batch_size: int = 16,
    seq_len: int = 128,
    repeats_only: int = 150,
    mix: tuple[float, float, float] = (0.15, 0.15, 0.15),
    seed: int = 0,
) -> Iterator[dict[str, torch.Tensor]]:
    """Causal-LM batches for a model that should copy: `repeats_only` steps of repeated spans, then a mix.

    `mix` gives the shares of repeated spans, key-value recall and SQL rows; the rest are text windows, half of them
    with a spliced-in repeat. Repeats first let the induction head form before text pulls towards plain n-grams.
    """
    if steps < 1 or len(text_ids) <= seq_len or len(sql_ids) <= seq_len:
        raise ValueError(f"need steps >= 1 and text and SQL longer than seq_len={seq_len} tokens")
    generator = torch.Generator().manual_seed(seed)
    p_repeat, p_recall, p_sql = mix
    for step in range(steps):
        rows = []
        for _ in range(batch_size):
            u = torch.rand(1, generator=generator).item()
            if step < repeats_only or u < p_repeat:
                rows.append(repeated_row(generator, seq_len, vocab_size))
            elif u < p_repeat + p_recall:
                rows.append(recall_row(generator, seq_len, words, separators, ends))
            elif u < p_repeat + p_recall + p_sql:
                rows.append(random_window(generator, sql_ids, seq_len))
            elif torch.rand(1, generator=generator).item() < 0.5:
                rows.append(spliced_row(generator, text_ids, seq_len, vocab_size))
            else:
                rows.append(random_window(generator, text_ids, seq_len))
        batch = torch.stack(rows)
        yield {"input_ids": batch, "labels": batch}


def random_queries(n: int, words: list[str], seed: int = 0) -> list[str]:
    """`n` random SELECT queries over the shop's tables with random `words` as string values: SQL for a smoke model
    to read in pre-training, as real models read code. No question is paired with them."""
    if n < 1 or not words:
        raise ValueError(f"need n >= 1 queries and a non-empty list of words for values; got n={n}, {len(words)} words")
    rng = random.Random(seed)
    columns = {table: statement[statement.index("(") + 1 : -1].split(", ") for table, statement in SCHEMA_BRIEF.items()}
    text_columns = {"name", "city", "category"}

    def condition(cols: list[str]) -> str:
        column = rng.choice(cols)
        if column in text_columns:
            return f"{column} = '{rng.choice(words)}'"
        return f"{column} {rng.choice(['=', '>', '<'])} {rng.randint(1, 400)}"

    queries = []
    for _ in range(n):
        source = rng.choice(list(columns))
        cols = columns[source]
        if source == "orders" and rng.random() < 0.4:  # columns both tables have (id) would be ambiguous
            source, cols = "orders join customers on customer_id = customers.id", cols[1:] + ["city", "age"]
        aggregate = f"{rng.choice(['avg', 'sum', 'max', 'min'])}({rng.choice(cols)})"
        select = rng.choice([rng.choice(cols), "count(*)", aggregate, "*", ", ".join(rng.sample(cols, 2))])
        query, r = f"select {select} from {source}", rng.random()
        if r < 0.6:
            query += f" where {condition(cols)}"
        elif r < 0.75:
            column = rng.choice(cols)
            query = f"select {column}, count(*) from {source} group by {column}"
        if rng.random() < 0.2:
            query += f" order by {rng.choice(cols)} {rng.choice(['asc', 'desc'])} limit {rng.randint(1, 10)}"
        queries.append(query)
    return queries


CHAT_PRETRAINING_STEPS = 600  # induction score 0.96; news perplexity 317 (fluent) vs 426 (shuffled)


def build(out: Path) -> None:
    """A tiny Qwen2-architecture chat model with the ChatML template that can copy from its context.

    Pre-trained on news, random SQL over the shop's tables and text that rewards copying (repeated spans, key-value
    recall), with previous-token heads set by hand in layer 0 (`set_previous_token_heads`): the smoke tier's in-context lessons
    need an induction head, which a model this small does not find on news alone in a few hundred steps.
    """
    torch.manual_seed(0)
    tokenizer = smoke_tokenizer("chat")
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = AutoModelForCausalLM.from_config(config)
    set_previous_token_heads(model, offsets=(1, 2))
    news = news_text()
    words = sorted({w for w in news.split() if w.isalpha() and len(w) > 2})

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    batches = pretraining_batches(
        text_ids=torch.tensor(ids(news)),
        sql_ids=torch.tensor(ids("\n".join(random_queries(4000, words, seed=0)))),
        words=sorted({ids(" " + w)[0] for w in words}),
        separators=[ids(s) for s in [":", " is", " likes"]],  # not SQL's " =": recall would leak into queries
        ends=[ids(s) for s in ["\n", ".", ";", ".\n"]],
        vocab_size=len(tokenizer),
        steps=CHAT_PRETRAINING_STEPS,
    )
    fit(model, batches, CHAT_PRETRAINING_STEPS, lr=3e-3, warmup=30)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
