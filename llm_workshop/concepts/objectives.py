"""Pre-training objectives written out: T5's span corruption (BERT's masking is `DataCollatorForLanguageModeling`).

Module_01/03 asks learners to build the corrupted input and the target with sentinel tokens; this is the reference.
"""

from __future__ import annotations

from collections.abc import Sequence


def sentinel(i: int) -> str:
    """The i-th sentinel token, spelt as in T5's vocabulary (it has 100 of them)."""
    return f"<extra_id_{i}>"


def span_corrupt(tokens: Sequence[str], spans: Sequence[tuple[int, int]]) -> tuple[list[str], list[str]]:
    """T5 span corruption: each [start, end) span becomes one sentinel in the input; the target lists the sentinels,
    each followed by the tokens it hides, and ends with one more sentinel."""
    inputs, targets, position = [], [], 0
    for i, (start, end) in enumerate(spans):
        if not position <= start < end <= len(tokens):
            raise ValueError(
                f"span {i} = ({start}, {end}) must be non-empty, inside the {len(tokens)} tokens, sorted and not "
                "overlapping the previous one"
            )
        inputs += [*tokens[position:start], sentinel(i)]
        targets += [sentinel(i), *tokens[start:end]]
        position = end
    return inputs + list(tokens[position:]), targets + [sentinel(len(spans))]
