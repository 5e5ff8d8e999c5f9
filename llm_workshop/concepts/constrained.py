"""Constrained decoding from scratch: a logits processor that lets through only the tokens that keep the output a
prefix of some string matching a regular expression, so every finished output matches (and, for JSON, parses).

A small JSON schema becomes such a regex first (`schema_regex`): objects with their properties in order, strings,
integers, numbers, booleans and enums, written as `json.dumps` writes them. The `regex` package's partial matching
answers "can this text still grow into a match?", which is all the processor asks, once per candidate token.
It extends 2.2's logit filters: top-k and top-p keep likely tokens, this keeps valid ones.
"""

from __future__ import annotations

import json

import regex
import torch
from transformers import LogitsProcessor, PreTrainedTokenizerBase

STRING = r'"[^"\\\x00-\x1f]{%d,%d}"'
INTEGER = r"-?(?:0|[1-9][0-9]{0,15})"
NUMBER = INTEGER + r"(?:\.[0-9]{1,10})?"
SCAN = 64  # best-scoring tokens checked one by one before the processor filters the whole vocabulary


def schema_regex(schema: dict, max_string: int = 100) -> str:
    """A regex for the `json.dumps` text of the values that satisfy a small JSON schema.

    An object's required properties come first, in the schema's order, then each optional one or not; without a
    `required` list every property is required. An integer with a small `minimum`..`maximum` range lists its values;
    other bounds are not enforced here (the schema check after decoding still applies them).
    """
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return "(?:" + "|".join(regex.escape(json.dumps(v)) for v in values) + ")"
    kind = schema.get("type")
    if kind == "string":
        shortest = schema.get("minLength", 0)
        return STRING % (shortest, max(shortest, min(schema.get("maxLength", max_string), max_string)))
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None and high - low <= 1000:  # a small range: list its values
            return "(?:" + "|".join(str(v) for v in range(high, low - 1, -1)) + ")"
        return INTEGER
    if kind == "number":
        return NUMBER
    if kind == "boolean":
        return "(?:true|false)"
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", list(properties))
        if not required:
            raise ValueError("an object schema needs at least one required property (and its properties listed)")
        fields = {name: regex.escape(json.dumps(name) + ": ") + schema_regex(sub, max_string)
                  for name, sub in properties.items()}  # fmt: skip
        optional = "".join(f"(?:, {fields[name]})?" for name in properties if name not in required)
        return r"\{" + ", ".join(fields[name] for name in required) + optional + r"\}"
    raise ValueError(f"unsupported schema {schema!r}; use object, string, integer, number, boolean, enum or const")


def tool_call_regex(tools: list[dict], wrap: bool = True, max_string: int = 200) -> str:
    """A regex for `{"name": ..., "arguments": {...}}` calling one of `tools` (chat-template specs), in <tool_call> tags."""
    options = []
    for spec in tools:
        function = spec["function"]
        call = {
            "type": "object",
            "properties": {"name": {"const": function["name"]}, "arguments": function["parameters"]},
        }
        options.append(schema_regex(call, max_string))
    body = "(?:" + "|".join(options) + ")"
    return r"<tool_call>\n" + body + r"\n</tool_call>" if wrap else body


def reply_regex(tools: list[dict], max_string: int = 200) -> str:
    """An agent's reply: free text (without '<'), or text followed by one valid tool call. The model still chooses
    whether to call and which tool; once it opens <tool_call>, only a call that parses and passes a schema can follow."""
    return r"[^<]+|[^<]*" + tool_call_regex(tools, max_string=max_string)


class RegexLogitsProcessor(LogitsProcessor):
    """Set to -inf the score of every token that would take the generated text out of the regex's prefixes.

    End-of-sequence is allowed only once the text is a full match. The text is the concatenation of each generated
    token's own string, the same strings the check uses, so the two never disagree. With `keep=k` only the k best
    allowed tokens survive, checked in score order (the best `SCAN` one by one, then the whole vocabulary filtered by
    first character), so a 150k-token vocabulary usually costs a few checks; greedy decoding gives the same tokens
    for any k, sampling becomes top-k sampling within the constraint.
    """

    def __init__(
        self, pattern: str, tokenizer: PreTrainedTokenizerBase, prompt_length: int, keep: int | None = None
    ) -> None:
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be at least 1 (or None for every allowed token), got {keep}")
        self.pattern = regex.compile(pattern)
        self.eos, self.prompt_length, self.keep = tokenizer.eos_token_id, prompt_length, keep
        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.strings = [tokenizer.convert_tokens_to_string([p]) if p is not None else "" for p in pieces]
        self.chars = sorted({text[0] for text in self.strings if text})
        index = {c: i for i, c in enumerate(self.chars)}
        first = [index[text[0]] if text and i != self.eos else -1 for i, text in enumerate(self.strings)]
        self.first_char = torch.tensor(first)

    def fits(self, text: str) -> bool:
        """Whether `text` can still grow into a full match."""
        return self.pattern.fullmatch(text, partial=True) is not None

    def _ok(self, text: str, token: int, done: bool) -> bool:
        """Whether `token` may follow `text` (`done`: the text is already a full match, so end-of-sequence may). Ids
        past the tokenizer's vocabulary (a model's output layer is often padded, Qwen2.5's to 151,936) never may."""
        if token == self.eos:
            return done
        return token < len(self.strings) and bool(self.strings[token]) and self.fits(text + self.strings[token])

    def allowed(self, text: str, scores: torch.Tensor | None = None) -> list[int]:
        """The tokens that keep `text + token` a prefix of a match (end-of-sequence if `text` matches in full), best
        score first, `keep` of them at most."""
        done = self.pattern.fullmatch(text) is not None
        ids: list[int] = []
        if scores is not None and self.keep is not None:  # the likely tokens first: usually enough
            for token in torch.topk(scores, min(SCAN, len(scores))).indices.tolist():
                if self._ok(text, token, done):
                    ids.append(token)
                    if len(ids) == self.keep:
                        return ids
        next_chars = torch.tensor([i for i, c in enumerate(self.chars) if self.fits(text + c)], dtype=torch.long)
        candidates = torch.isin(self.first_char, next_chars).nonzero()[:, 0]
        if done and self.eos is not None:
            candidates = torch.cat([candidates, torch.tensor([self.eos])])
        if scores is not None:
            candidates = candidates[torch.argsort(scores[candidates], descending=True, stable=True)]
        ids = []
        for token in candidates.tolist():
            if self.keep is not None and len(ids) >= self.keep:
                break
            if self._ok(text, token, done):
                ids.append(token)
        return ids

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Mask each row's scores to the tokens its text allows (a finished row, past its end-of-sequence, is left
        alone: generate() pads it); a row with no allowed token raises."""
        masked = torch.full_like(scores, float("-inf"))
        for row, ids in enumerate(input_ids.tolist()):
            if self.eos in ids[self.prompt_length :]:
                masked[row] = scores[row]
                continue
            text = "".join(self.strings[t] for t in ids[self.prompt_length :])
            allowed = self.allowed(text, scores[row])
            if not allowed:
                raise RuntimeError(
                    f"no token can continue {text!r} within the pattern; the vocabulary lacks a character"
                )
            masked[row, allowed] = scores[row, allowed]
        return masked
