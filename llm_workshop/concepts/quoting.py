"""Quote-constrained answers: a logits processor that lets a grounded answer cite a passage and then only quote it.

A grounded answer (`grounding`) is "[n] " followed by words copied from passage n, or the "found nothing" reply.
A small reader's copy can drift (a garbled word, a loop back to an earlier phrase), and a large model may paraphrase.
Constrained this way, the text after the citation stays a contiguous piece of passage n, starting at a word: it
cannot drift or loop, and it is faithful by construction, which turns "check the output" into "make the output
checkable". The model still chooses which passage to cite, where its quote starts and where it ends
(end-of-sequence is allowed wherever the quote has a character and does not stop inside a word).

It works on bytes, not characters: byte-level BPE splits a curly quote into tokens that are not characters on their
own, and a byte check lets them through exactly when the passage's bytes continue with them. The allowed tokens are
found by looking up the prefixes of each possible continuation in a table of token bytes, never by scanning the
vocabulary. It extends 2.2's logit filters and 2.7's regex processor (`constrained`): those keep likely or valid
tokens, this keeps copied ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache

import torch
from transformers import LogitsProcessor, PreTrainedTokenizerBase

from llm_workshop.concepts.grounding import NOTHING
from llm_workshop.concepts.judge import replies


@cache
def _byte_of_char() -> dict[str, int]:
    """GPT-2's byte-level alphabet, inverted: the printable character byte-level BPE writes for each byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def token_bytes(tokenizer: PreTrainedTokenizerBase) -> list[bytes | None]:
    """The bytes each token id stands for (None for special tokens), from a byte-level BPE tokenizer's pieces."""
    alphabet, special = _byte_of_char(), set(tokenizer.all_special_ids)
    out: list[bytes | None] = []
    for i, piece in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))):
        if i in special or piece is None or any(c not in alphabet for c in piece):
            out.append(None)
        else:
            out.append(bytes(alphabet[c] for c in piece))
    probe = "Holmes’s “lamp”, lit."  # a byte-level BPE rebuilds any text byte for byte from its tokens' bytes
    if b"".join(out[i] or b"" for i in tokenizer(probe, add_special_tokens=False)["input_ids"]) != probe.encode():
        raise ValueError("quote constraints need a byte-level BPE tokenizer (GPT-2, Qwen2.5, the smoke models)")
    return out


@lru_cache(maxsize=2)
def _token_table(tokenizer: PreTrainedTokenizerBase) -> tuple[list[bytes | None], dict[bytes, list[int]], int]:
    """(each token's bytes, the token ids of each byte string, the longest token in bytes): built once per tokenizer,
    not once per batch (Qwen's 151,665 tokens take a noticeable fraction of a second)."""
    pieces, by_bytes = token_bytes(tokenizer), {}
    for i, b in enumerate(pieces):
        if b:
            by_bytes.setdefault(b, []).append(i)
    return pieces, by_bytes, max(len(b) for b in by_bytes)


def word_starts(passage: bytes) -> list[int]:
    """Byte offsets where a quote of `passage` may start: its start and each word after a space."""
    return [0] + [i for i in range(1, len(passage)) if passage[i - 1 : i] == b" " and passage[i : i + 1] != b" "]


def word_end(passage: bytes, end: int) -> bool:
    """Whether a quote of `passage` may end at byte `end`: not inside a word (an ASCII letter or digit follows) nor
    inside a character (a UTF-8 continuation byte follows)."""
    after = passage[end : end + 1]
    return not after or not (after.isalnum() or 0x80 <= after[0] < 0xC0)


def is_quote(answer: str, passages: Sequence[str]) -> bool:
    """Whether `answer` is the found-nothing reply or "[n] " with a non-empty piece of passage n that starts at a word
    and does not end inside one (the brute-force check of what the processor allows, on characters)."""
    if answer == NOTHING:
        return True
    for n, passage in enumerate(passages, start=1):
        head = f"[{n}] "
        quote = answer[len(head) :]
        if not answer.startswith(head) or not quote:
            continue
        ends = [i + len(quote) for i in _char_starts(passage) if passage.startswith(quote, i)]
        if any(not (c.isascii() and c.isalnum()) for c in (passage[e : e + 1] for e in ends)):
            return True
    return False


def _char_starts(passage: str) -> list[int]:
    """Character offsets of `word_starts`."""
    return [0] + [i for i in range(1, len(passage)) if passage[i - 1] == " " and passage[i] != " "]


class QuoteLogitsProcessor(LogitsProcessor):
    """Set to -inf every token that would take a row's answer out of "[n] <a piece of passage n>" or `NOTHING`.

    `passages[row]` are the passages numbered in row `row`'s prompt; `prompt_length` is where generation starts
    (prompts left-padded to one length). End-of-sequence (`eos`, one id or several) is allowed once the answer is
    complete: the found-nothing reply, or a citation with a quote of at least one byte that does not end inside a
    word.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        passages: Sequence[Sequence[str]],
        prompt_length: int,
        eos: int | Sequence[int] | None = None,
    ) -> None:
        eos = tokenizer.eos_token_id if eos is None else eos
        self.eos = [eos] if isinstance(eos, int) else list(eos)
        if not self.eos:
            raise ValueError("quote constraints need an end-of-sequence token id to end the answer with")
        self.bytes, self.by_bytes, self.longest = _token_table(tokenizer)
        self.rows = [[p.encode() for p in row] for row in passages]
        self.starts = [[word_starts(p) for p in row] for row in self.rows]
        self.prompt_length, self.nothing = prompt_length, NOTHING.encode()

    def continuations(self, row: int, text: bytes) -> tuple[list[bytes], bool]:
        """(the byte strings `text` may continue with, any prefix of each; whether `text` is a complete answer)."""
        out, done = [], text == self.nothing
        if self.nothing.startswith(text):
            out.append(self.nothing[len(text) :])
        for n, (passage, starts) in enumerate(zip(self.rows[row], self.starts[row]), start=1):
            head = f"[{n}] ".encode()
            if head.startswith(text):  # still in the citation: it may go on into a quote from any word
                out += [head[len(text) :] + passage[i:] for i in starts]
            elif text.startswith(head):
                quote = text[len(head) :]
                ends = [i + len(quote) for i in starts if passage.startswith(quote, i)]
                out += [passage[end:] for end in ends]
                done = done or (bool(quote) and any(word_end(passage, end) for end in ends))
        return out, done

    def allowed(self, row: int, text: bytes) -> list[int]:
        """The token ids that keep row `row`'s answer `text` within the constraint (end-of-sequence if complete)."""
        continuations, done = self.continuations(row, text)
        ids = set(self.eos) if done else set()
        for rest in continuations:
            for length in range(1, min(self.longest, len(rest)) + 1):
                ids.update(self.by_bytes.get(rest[:length], ()))
        return sorted(ids)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Mask each row's scores to its allowed tokens (a row past its end-of-sequence is left alone: generate()
        pads it); a row with no allowed token raises."""
        masked = torch.full_like(scores, float("-inf"))
        for row, ids in enumerate(input_ids.tolist()):
            generated = ids[self.prompt_length :]
            if any(e in generated for e in self.eos):
                masked[row] = scores[row]
                continue
            text = b"".join(self.bytes[t] or b"" for t in generated)
            allowed = [t for t in self.allowed(row, text) if t < scores.shape[1]]
            if not allowed:
                raise RuntimeError(f"no token can continue {text!r} as a quote; the vocabulary lacks a byte")
            masked[row, allowed] = scores[row, allowed]
        return masked


def quoted_replies(
    model,
    tokenizer,
    prompts: Sequence[str],
    passages: Sequence[Sequence[str]],
    max_new_tokens: int,
    batch_size: int = 16,
) -> list[str]:
    """Greedy replies to rendered grounded prompts, each constrained to cite one of its `passages` and quote it
    (2.5's batched `judge.replies`, with a `QuoteLogitsProcessor` per batch)."""
    if len(prompts) != len(passages):
        raise ValueError(f"one passage list per prompt: {len(prompts)} prompts, {len(passages)} passage lists")

    def constraint(rows: range, prompt_length: int) -> QuoteLogitsProcessor:
        return QuoteLogitsProcessor(tokenizer, [passages[r] for r in rows], prompt_length)

    return replies(model, tokenizer, prompts, max_new_tokens, batch_size=batch_size, constraint=constraint)
