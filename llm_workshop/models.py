"""The front door: models and data sets by name and tier. A logical name maps to a real Hub checkpoint (full tier)
and to a tiny local stand-in (smoke tier); this is the only module that knows both.

Smoke stand-ins (`llm_workshop.standins`) are built once into a cache directory named by what builds them, saved
with `save_pretrained` and loaded back with `from_pretrained` — the same call the full tier makes with a Hub id.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from llm_workshop.concepts.preferences import generated_pairs, pairs_from_reviews, review_prompts
from llm_workshop.course.cache import build_key, cache_dir
from llm_workshop.course.data import HUB_ASSETS
from llm_workshop.course.runtime import quiet_libraries, rehearsal_mode, valid_tier
from llm_workshop.standins import (
    agent,
    chat,
    distilbert,
    distilgpt2,
    encoder,
    gpt2,
    gpt2_medium,
    instruct,
    qa_reader,
    reader,
    sentiment,
)
from llm_workshop.standins.base import one_thread
from llm_workshop.standins.hub_datasets import dataset_standin


@dataclass(frozen=True)
class ModelSpec:
    """A logical model: its full-tier Hub id, how to build its smoke stand-in, and the stand-ins that build starts
    from (their directories are passed to `build` after the output directory)."""

    hub_id: str
    build: Callable[..., None]
    summary: str
    needs: tuple[str, ...] = ()


REGISTRY: dict[str, ModelSpec] = {
    "gpt2": ModelSpec("gpt2", gpt2.build, "GPT-2 small (124M), a decoder-only causal LM"),
    "distilbert": ModelSpec(
        "distilbert-base-uncased", distilbert.build, "DistilBERT (66M), an encoder trained with MLM"
    ),
    "distilbert-squad": ModelSpec(
        "distilbert-base-uncased-distilled-squad",
        qa_reader.build,
        "DistilBERT fine-tuned on SQuAD for extractive question answering",
    ),
    "chat": ModelSpec("Qwen/Qwen2.5-0.5B-Instruct", chat.build, "Qwen2.5-0.5B-Instruct, a small open chat model"),
    "instruct": ModelSpec(
        "Qwen/Qwen2.5-0.5B-Instruct",
        instruct.build,
        "Qwen2.5-0.5B-Instruct, a small open chat model (smoke: the chat stand-in, instruction-tuned to judge, "
        "read, cite and write SQL)",
        needs=("chat",),
    ),
    "agent": ModelSpec(
        "Qwen/Qwen2.5-0.5B-Instruct",
        agent.build,
        "Qwen2.5-0.5B-Instruct, a small open chat model (smoke: the instruct stand-in, tuned to call tools)",
        needs=("instruct",),
    ),
    "reader": ModelSpec(
        "Qwen/Qwen2.5-0.5B-Instruct",
        reader.build,
        "Qwen2.5-0.5B-Instruct, a small open chat model (smoke: the instruct stand-in, tuned further to cite and "
        "quote sentences of the Sherlock Holmes stories)",
        needs=("instruct",),
    ),
    "sentiment": ModelSpec(
        "lvwerra/distilbert-imdb", sentiment.build, "DistilBERT fine-tuned on IMDB sentiment, a reward model"
    ),
    "gpt2-medium": ModelSpec(
        "gpt2-medium",
        gpt2_medium.build,
        "GPT-2 medium (355M), the target model of speculative decoding (smoke: 14 layers, grown from 2 by stacking)",
    ),
    "distilgpt2": ModelSpec(
        "distilgpt2",
        distilgpt2.build,
        "DistilGPT-2 (82M), GPT-2's distilled student: a draft for gpt2-medium (smoke: distilled from it)",
        needs=("gpt2-medium",),
    ),
    "encoder": ModelSpec(
        "sentence-transformers/all-MiniLM-L6-v2",
        encoder.build,
        "all-MiniLM-L6-v2 (22M), a sentence embedding model: a 6-layer BERT, mean-pooled to 384 dimensions",
    ),
}


def spec(name: str) -> ModelSpec:
    """The registry entry for `name`; an unknown name raises KeyError listing the known ones."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def smoke_key(name: str) -> str:
    """The cache key of stand-in `name`: its builder's sources and the keys of the stand-ins it starts from."""
    entry = spec(name)
    return build_key([sys.modules[entry.build.__module__]], *(smoke_key(need) for need in entry.needs))


def _cache_entry(name: str) -> Path:
    return cache_dir() / f"smoke-{name}-{smoke_key(name)}"


def smoke_path(name: str) -> Path:
    """Build the smoke model `name` into the cache once, atomically, on one CPU thread, and return its directory."""
    entry, target = spec(name), _cache_entry(name)
    if (target / "config.json").is_file():
        return target
    inputs = [smoke_path(need) for need in entry.needs]
    quiet_libraries()  # no save progress bars or config notes in a build's output (make test, make run, a notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=target.parent))
    try:
        with one_thread():  # the same weights on any number of cores
            entry.build(scratch, *inputs)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def build_all(names: Sequence[str] | None = None, jobs: int = 2) -> list[Path]:
    """Build the stand-ins `names` (all by default) that the cache lacks, `jobs` at a time in separate processes,
    each on one thread (so the weights do not depend on `jobs`); a stand-in waits for those it starts from."""
    todo = list(names or REGISTRY)
    todo += [need for name in todo for need in spec(name).needs if need not in todo]
    done = {name for name in todo if (_cache_entry(name) / "config.json").is_file()}
    if len(done) == len(todo):
        return [smoke_path(name) for name in names or REGISTRY]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        running: dict = {}
        while len(done) < len(todo):
            for name in todo:
                ready = all(need in done for need in spec(name).needs)
                if name not in done and name not in running.values() and ready:
                    running[pool.submit(smoke_path, name)] = name
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()  # a failed build raises here
                done.add(running.pop(future))
    return [smoke_path(name) for name in names or REGISTRY]


def hub_files(name: str) -> Path:
    """The repository's copy of the real config and tokenizer files (no weights) of `name`'s Hub checkpoint."""
    return HUB_ASSETS / spec(name).hub_id.replace("/", "__")


def model_path(name: str, tier: str) -> str:
    """What to pass to `from_pretrained`: the Hub id in the full tier, the cached local directory in smoke."""
    if valid_tier(tier) == "full":
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


# --- data sets ---------------------------------------------------------------------------------------------------


def hub_dataset(hub_id: str, split: str):
    """One split of a Hub data set: `datasets.load_dataset(hub_id, split=split)`, or under `make rehearse`
    (offline, where `load_dataset` cannot read the Hub cache) a small local stand-in with the same schema."""
    if rehearsal_mode():
        return dataset_standin(hub_id, split)
    from datasets import load_dataset

    return load_dataset(hub_id, split=split)


def _imdb(split: str = "train"):
    return hub_dataset("stanfordnlp/imdb", split)


def preference_pairs(tier: str, n: int, seed: int = 0) -> list[dict[str, str]]:
    """Preference pairs for `tier`: generated lexicon pairs in smoke, IMDB review continuations in full."""
    if valid_tier(tier) == "smoke":
        return generated_pairs(n, seed)
    imdb = _imdb()
    imdb = imdb.shuffle(seed=seed).select(range(min(20 * n, len(imdb))))
    texts = [" ".join(t.replace("<br />", " ").split()) for t in imdb["text"]]
    return pairs_from_reviews(texts, imdb["label"], n, seed)


def prompts_for(tier: str, n: int, seed: int = 0, min_words: int = 2, max_words: int = 6) -> list[str]:
    """`n` prompts: generated review openers in smoke, the first 2-6 words of IMDB reviews in full."""
    if valid_tier(tier) == "smoke":
        return review_prompts(n, seed)
    rng = random.Random(seed)
    texts = _imdb().shuffle(seed=seed).select(range(n))["text"]
    return [" ".join(t.replace("<br />", " ").split()[: rng.randint(min_words, max_words)]) for t in texts]
