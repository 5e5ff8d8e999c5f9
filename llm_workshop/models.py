"""Model registry: a logical name maps to a real Hub checkpoint (full tier) and a tiny local stand-in (smoke tier).

Smoke models are built from a small config and a byte-level BPE tokenizer trained on the course
corpus (the QA reader: the real DistilBERT tokenizer), saved with `save_pretrained` into a cache directory, and
loaded back with `from_pretrained` — the same call the full tier makes with a Hub id.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DistilBertConfig,
    GPT2Config,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

from llm_workshop import copying, qa, sql
from llm_workshop.data import REPO_ROOT, load_corpus
from llm_workshop.preferences import NEGATIVE_WORDS, POSITIVE_WORDS, generated_pairs, lexicon_score
from llm_workshop.runtime import check_tier
from llm_workshop.training import random_rows, random_windows, train

CACHE_VERSION = "v3"
SMOKE_VOCAB_SIZE = 2048
QA_UNSEEN_WORDS = 20000  # the smoke QA reader trains on Sherlock Holmes text after these words, never before
QA_STEPS = (600, 450)  # facts alone, then facts hidden in text with answerless windows
QA_EXAMPLES = 12000  # of each of the two kinds
# layer 0 of the QA reader starts out reading the 5 tokens before, the 5 after, the one before and the one after
QA_NEIGHBOUR_HEADS = [[-5, -4, -3, -2, -1], [1, 2, 3, 4, 5], [-1], [1]]
CHAT_PRETRAINING_STEPS = 600  # induction score 0.96; news perplexity 317 (fluent) vs 426 (shuffled)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def cache_dir() -> Path:
    """Where smoke models live: `$LLM_WORKSHOP_CACHE`, else `$XDG_CACHE_HOME/llm_workshop` (~/.cache)."""
    if os.environ.get("LLM_WORKSHOP_CACHE"):
        return Path(os.environ["LLM_WORKSHOP_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llm_workshop"


# --- the smoke tokenizer -----------------------------------------------------------------


def news_text() -> str:
    """News sentences shipped in gensim's test data (the Lee corpus): the smoke models' 'pre-training' text."""
    from gensim.test.utils import datapath

    return Path(datapath("lee_background.cor")).read_text(encoding="utf-8", errors="replace")


def train_bpe(texts: list[str], vocab_size: int = SMOKE_VOCAB_SIZE) -> Tokenizer:
    """A byte-level BPE tokenizer (the GPT-2 scheme) trained on `texts`, with the course's special tokens."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def smoke_tokenizer(flavor: str) -> PreTrainedTokenizerFast:
    """The course BPE tokenizer dressed as a GPT-2 (`causal`), BERT (`masked`) or chat (`chat`) tokenizer."""
    path = cache_dir() / f"smoke-bpe-{CACHE_VERSION}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        train_bpe([load_corpus(), news_text()]).save(str(path))
    tokenizer = Tokenizer.from_file(str(path))
    if flavor == "causal":
        return PreTrainedTokenizerFast(
            tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="[UNK]"
        )
    if flavor == "chat":
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="[UNK]"
        )
        fast.chat_template = CHATML_TEMPLATE
        return fast
    if flavor == "masked":
        cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tokenizer,
            cls_token="[CLS]",
            sep_token="[SEP]",
            pad_token="[PAD]",
            mask_token="[MASK]",
            unk_token="[UNK]",
        )
    raise ValueError(f"unknown tokenizer flavor {flavor!r}; use 'causal', 'masked' or 'chat'")


# --- brief pre-training so smoke models are 'pre-trained' on text other than the course corpus ----


def pretrain(model: PreTrainedModel, batches: Iterable, steps: int, lr: float = 3e-3, warmup: int = 0) -> list[float]:
    """AdamW on `steps` batches (model inputs with labels), learning rate warmed up for `warmup` steps, then cosine."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)

    def factor(step: int) -> float:
        return min(1.0, (step + 1) / warmup if warmup else 1.0) * 0.5 * (1 + math.cos(math.pi * step / steps))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return train(model, batches, optimizer, max_grad_norm=1.0, scheduler=schedule)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Train on one CPU thread inside the block: sums split across threads round differently, so a smoke build
    would give other weights on another number of cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def pretrain_causal_lm(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    text: str,
    steps: int = 300,
    seq_len: int = 64,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Train `model` on random windows of `text` for `steps` AdamW steps; returns the loss per step.

    Batches go to the model's device, so the same call works on a GPU as on the CPU.
    """
    ids = torch.tensor(tokenizer(text)["input_ids"]).to(model.device)
    return pretrain(model, random_windows(ids, steps, batch_size, seq_len, seed), steps, lr)


# --- the builders ---------------------------------------------------------------------------


def build_smoke_gpt2(out: Path) -> None:
    """A ~0.7M-parameter GPT-2 (2 layers, 128 wide) pre-trained briefly on news, not on Sherlock Holmes."""
    torch.manual_seed(0)
    tokenizer = smoke_tokenizer("causal")
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=128,
        n_layer=2,
        n_head=4,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = AutoModelForCausalLM.from_config(config)
    pretrain_causal_lm(model, tokenizer, news_text())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def build_smoke_chat(out: Path) -> None:
    """A tiny Qwen2-architecture chat model with the ChatML template that can copy from its context.

    Pre-trained on news, random SQL over the shop's tables and text that rewards copying (repeated spans, key-value
    recall), with previous-token heads set by hand in layer 0 (see `copying`): the smoke tier's in-context lessons
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
    copying.set_previous_token_heads(model, offsets=(1, 2))
    news = news_text()
    words = sorted({w for w in news.split() if w.isalpha() and len(w) > 2})

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    batches = copying.pretraining_batches(
        text_ids=torch.tensor(ids(news)),
        sql_ids=torch.tensor(ids("\n".join(sql.random_queries(4000, words, seed=0)))),
        words=sorted({ids(" " + w)[0] for w in words}),
        separators=[ids(s) for s in [":", " is", " likes"]],  # not SQL's " =": recall would leak into queries
        ends=[ids(s) for s in ["\n", ".", ";", ".\n"]],
        vocab_size=len(tokenizer),
        steps=CHAT_PRETRAINING_STEPS,
    )
    with one_thread():
        pretrain(model, batches, CHAT_PRETRAINING_STEPS, lr=3e-3, warmup=30)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def build_smoke_distilbert(out: Path) -> None:
    """A randomly initialised 2-layer DistilBERT with the course tokenizer; notebooks pre-train it with MLM."""
    torch.manual_seed(0)
    tokenizer = smoke_tokenizer("masked")
    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        dim=128,
        hidden_dim=256,
        n_layers=2,
        n_heads=4,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    AutoModelForMaskedLM.from_config(config).save_pretrained(out)
    tokenizer.save_pretrained(out)


def qa_batches(features: dict[str, torch.Tensor], rows: Iterable[torch.Tensor]) -> Iterator[dict[str, torch.Tensor]]:
    """The rows of `features` as batches, each cut to its longest row: padding no row needs costs time and teaches nothing."""
    for r in rows:
        width = int(features["attention_mask"][r].sum(1).max())
        yield {k: t[r, :width] if t.dim() == 2 else t[r] for k, t in features.items()}


def set_neighbour_heads(model: PreTrainedModel, head_offsets: list[list[int]], seed: int = 0) -> None:
    """Make layer 0's heads of a DistilBERT attend, at initialisation, to the tokens at the given relative offsets.

    Positions become sinusoids of random frequencies in the first `head dim` embedding dimensions (word embeddings
    start at zero there); head h's query rotates them by each of its offsets, so q_i . k_j peaks where j - i is one
    of them (a sum of rotations spreads the head over several). Training may change all of it.
    """
    config = model.config
    head_dim = config.dim // config.n_heads
    if len(head_offsets) > config.n_heads:
        raise ValueError(f"{len(head_offsets)} offset lists for {config.n_heads} heads; give at most one per head")
    omega = 0.2 + (math.pi - 0.2) * torch.rand(head_dim // 2, generator=torch.Generator().manual_seed(seed))
    embeddings, attention = model.distilbert.embeddings, model.distilbert.transformer.layer[0].attention
    angles = torch.arange(config.max_position_embeddings)[:, None] * omega
    positions = torch.zeros(config.max_position_embeddings, config.dim)
    positions[:, 0:head_dim:2], positions[:, 1:head_dim:2] = 0.1 * angles.sin(), 0.1 * angles.cos()

    def rotation(offset: int) -> torch.Tensor:  # (sin wi, cos wi) -> (sin w(i + offset), cos w(i + offset))
        cos, sin = torch.cos(omega * offset), torch.sin(omega * offset)
        return torch.block_diag(*[torch.tensor([[c, s], [-s, c]]) for c, s in zip(cos.tolist(), sin.tolist())])

    with torch.no_grad():
        embeddings.position_embeddings.weight.copy_(positions)
        embeddings.word_embeddings.weight[:, :head_dim] = 0
        for head, offsets in enumerate(head_offsets):
            rows = slice(head * head_dim, (head + 1) * head_dim)
            attention.q_lin.weight[rows] = 0
            attention.k_lin.weight[rows] = 0
            attention.q_lin.weight[rows, :head_dim] = sum(rotation(offset) for offset in offsets)
            attention.k_lin.weight[rows, :head_dim] = torch.eye(head_dim)
            attention.q_lin.bias[rows] = 0
            attention.k_lin.bias[rows] = 0


def build_smoke_distilbert_squad(out: Path) -> None:
    """A tiny DistilBERT reader for extractive QA with the real DistilBERT tokenizer, like the SQuAD-tuned checkpoint.

    Trained from scratch on made-up facts (`qa.FACTS`): first alone, then hidden in Sherlock Holmes text with windows
    and questions that have no answer labelled [CLS], so that over a long context the window holding the fact wins.
    Layer 0 starts with neighbour heads (`set_neighbour_heads`). The text comes from past the corpus's first
    `QA_UNSEEN_WORDS` words, which stay unseen for notebook 1.3 and the tests.
    """
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(hub_files("distilbert"))  # the real uncased WordPiece, shipped in assets/
    config = DistilBertConfig(
        vocab_size=len(tokenizer), dim=128, hidden_dim=256, n_layers=2, n_heads=4, max_position_embeddings=512,
        dropout=0.0, attention_dropout=0.0, qa_dropout=0.0, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    model = AutoModelForQuestionAnswering.from_config(config)
    set_neighbour_heads(model, QA_NEIGHBOUR_HEADS)
    # the 30,522 random word vectors stay as they start: trained too, the reader found no more hidden facts (34 of 36
    # in a research run, frozen 34, 34 and 35 from three seeds) and each step spent a third of its time on them
    model.distilbert.embeddings.word_embeddings.weight.requires_grad_(False)
    filler = load_corpus().split()[QA_UNSEEN_WORDS:]

    def encode(examples: list[dict]) -> dict[str, torch.Tensor]:
        columns = [[e[key] for e in examples] for key in ("question", "context", "start", "answer")]
        return qa.encode_training_examples(tokenizer, *columns, max_length=128, stride=32)

    alone = encode(qa.hidden_fact_examples(QA_EXAMPLES, seed=1, filler=filler, max_filler_words=0))
    hidden = encode(qa.hidden_fact_examples(QA_EXAMPLES, seed=0, filler=filler, max_filler_words=150))
    has_answer = hidden["start_positions"] > 0
    with_answer, without = has_answer.nonzero()[:, 0], (~has_answer).nonzero()[:, 0]
    generator = torch.Generator().manual_seed(0)

    def balanced_rows() -> Iterator[torch.Tensor]:  # half the windows hold the answer, half say "no answer here"
        for _ in range(QA_STEPS[1]):
            yes = with_answer[torch.randint(len(with_answer), (16,), generator=generator)]
            no = without[torch.randint(len(without), (16,), generator=generator)]
            yield torch.cat([yes, no])

    batches = itertools.chain(
        qa_batches(alone, random_rows(len(alone["input_ids"]), QA_STEPS[0], 32)), qa_batches(hidden, balanced_rows())
    )
    with one_thread():
        pretrain(model, batches, sum(QA_STEPS), lr=2e-3, warmup=30)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def build_smoke_sentiment(out: Path) -> None:
    """A tiny DistilBERT sentiment classifier with NEGATIVE/POSITIVE labels, like `lvwerra/distilbert-imdb`.

    It learns the smoke tier's word-lexicon sentiment: trained towards P(POSITIVE) = sigmoid(lexicon score)
    on generated reviews and on news snippets with sentiment words sprinkled in, so its log-odds grade text
    the way the lexicon does; module_03's PPO uses it as the reward.
    """
    import random

    torch.manual_seed(0)
    rng = random.Random(0)
    tokenizer = smoke_tokenizer("masked")
    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        dim=64,
        hidden_dim=128,
        n_layers=2,
        n_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    model = AutoModelForSequenceClassification.from_config(config)
    texts = [p["prompt"] + p[side] for p in generated_pairs(512, seed=1234) for side in ("chosen", "rejected")]
    news, lexicon = news_text().split(), sorted(POSITIVE_WORDS | NEGATIVE_WORDS)
    for _ in range(1024):
        start = rng.randrange(len(news) - 20)
        words = news[start : start + rng.randint(4, 16)]
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randint(0, len(words)), rng.choice(lexicon))
        texts.append(" ".join(words))
    p_positive = torch.sigmoid(torch.tensor([lexicon_score(t) for t in texts]))
    targets = torch.stack([1 - p_positive, p_positive], dim=1)

    def soft_label_loss(model, rows: torch.Tensor) -> torch.Tensor:
        batch = tokenizer([texts[i] for i in rows], return_tensors="pt", padding=True, truncation=True, max_length=64)
        return torch.nn.functional.cross_entropy(model(**batch).logits, targets[rows])

    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    train(model, random_rows(len(texts), 200, 32), optimizer, loss_fn=soft_label_loss)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _smoke_gpt2_config(tokenizer: PreTrainedTokenizerFast, n_layer: int, n_embd: int, n_head: int) -> GPT2Config:
    """A GPT-2 config of the given depth and width with the smoke tokenizer and 256 positions."""
    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def build_smoke_gpt2_medium(out: Path) -> None:
    """The speculative-decoding target in the smoke tier: the smoke `gpt2` itself (0.7M parameters), copied, not rebuilt."""
    shutil.copytree(smoke_path("gpt2"), out, dirs_exist_ok=True)


def build_smoke_distilgpt2(out: Path) -> None:
    """The draft: a GPT-2 (1 layer, 64 wide, ~0.2M parameters) distilled from the smoke `gpt2-medium` on the same news."""
    from llm_workshop.distill import train_student

    torch.manual_seed(0)
    teacher, tokenizer = load("gpt2-medium", "smoke")
    student = AutoModelForCausalLM.from_config(_smoke_gpt2_config(tokenizer, n_layer=1, n_embd=64, n_head=2))
    train_student(student, tokenizer, news_text(), steps=300, teacher=teacher, temperature=2.0)
    student.save_pretrained(out)
    tokenizer.save_pretrained(out)


@dataclass(frozen=True)
class ModelSpec:
    """A logical model: its full-tier Hub id and how to build its smoke-tier stand-in."""

    hub_id: str
    build_smoke: Callable[[Path], None]
    summary: str


REGISTRY: dict[str, ModelSpec] = {
    "gpt2": ModelSpec("gpt2", build_smoke_gpt2, "GPT-2 small (124M), a decoder-only causal LM"),
    "distilbert": ModelSpec(
        "distilbert-base-uncased", build_smoke_distilbert, "DistilBERT (66M), an encoder trained with MLM"
    ),
    "distilbert-squad": ModelSpec(
        "distilbert-base-uncased-distilled-squad",
        build_smoke_distilbert_squad,
        "DistilBERT fine-tuned on SQuAD for extractive question answering",
    ),
    "chat": ModelSpec("Qwen/Qwen2.5-0.5B-Instruct", build_smoke_chat, "Qwen2.5-0.5B-Instruct, a small open chat model"),
    "sentiment": ModelSpec(
        "lvwerra/distilbert-imdb", build_smoke_sentiment, "DistilBERT fine-tuned on IMDB sentiment, a reward model"
    ),
    "gpt2-medium": ModelSpec(
        "gpt2-medium", build_smoke_gpt2_medium, "GPT-2 medium (355M), the target model of speculative decoding"
    ),
    "distilgpt2": ModelSpec(
        "distilgpt2", build_smoke_distilgpt2, "DistilGPT-2 (82M), GPT-2's distilled student: a draft for gpt2-medium"
    ),
}


def spec(name: str) -> ModelSpec:
    """The registry entry for `name`; an unknown name raises KeyError listing the known ones."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def smoke_path(name: str) -> Path:
    """Build the smoke model `name` into the cache once, atomically, and return its directory."""
    entry = spec(name)
    target = cache_dir() / f"smoke-{name}-{CACHE_VERSION}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=target.parent))
    try:
        entry.build_smoke(scratch)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def hub_files(name: str) -> Path:
    """The repository's copy of the real config and tokenizer files (no weights) of `name`'s Hub checkpoint."""
    return REPO_ROOT / "assets" / "hub" / spec(name).hub_id.replace("/", "__")


def model_path(name: str, tier: str) -> str:
    """What to pass to `from_pretrained`: the Hub id in the full tier, the cached local directory in smoke."""
    if check_tier(tier) == "full":
        return spec(name).hub_id
    return str(smoke_path(name))


def load(name: str, tier: str, auto_class: type = AutoModelForCausalLM, **kwargs) -> tuple:
    """Load (model, tokenizer) for `name` in `tier` with `auto_class.from_pretrained` (kwargs pass through).

    Without network and without a local copy, the full tier fails with a sentence saying what to do.
    """
    path = model_path(name, tier)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = auto_class.from_pretrained(path, **kwargs)
    except OSError as error:
        if tier == "full":
            raise OSError(
                f"Could not load {path!r} from the Hugging Face Hub or its local cache ({error.__class__.__name__}). "
                "Connect to the internet once to download it, or set LLM_WORKSHOP_TIER=smoke to use the "
                "small offline model."
            ) from error
        raise
    return model, tokenizer
