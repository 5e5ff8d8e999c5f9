"""The smoke tokenizer: byte-level BPE (the GPT-2 scheme) trained on the course corpus and the news text, dressed as a
GPT-2, BERT or ChatML chat tokenizer. It is trained once per cache and shared by the stand-ins built on it.
"""

from __future__ import annotations

import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from llm_workshop.course.cache import build_key, cache_dir
from llm_workshop.course.data import load_corpus, news_text

SMOKE_VOCAB_SIZE = 2048


SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


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
    path = cache_dir() / f"smoke-bpe-{build_key([sys.modules[__name__]])}.json"
    if not path.is_file():  # trained once; written atomically, as parallel builds may train it at the same time
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        train_bpe([load_corpus(), news_text()]).save(str(scratch))
        os.replace(scratch, path)
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
