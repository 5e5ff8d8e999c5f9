"""Pre-training objectives written out: T5's span corruption (BERT's masking is `DataCollatorForLanguageModeling`).

Module_01/03 asks learners to build the corrupted input and the target with sentinel tokens; this is the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llm_workshop.exercises import attempt, verdict


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


_CHECK_CASES = [
    ("thank you for inviting me to your party last week".split(), [(2, 4), (8, 9)]),
    ("holmes lit his pipe and looked at the fire".split(), [(0, 1), (3, 6)]),
    ("elementary my dear watson".split(), [(1, 3)]),
    ("the game is afoot".split(), []),
]


def check_span_corruption(
    fn: Callable[[Sequence[str], Sequence[tuple[int, int]]], tuple[list[str], list[str]]],
) -> bool:
    """Check `fn(tokens, spans)`: the (inputs, targets) token lists of T5 span corruption, against `span_corrupt`."""
    for tokens, spans in _CHECK_CASES:
        expected_inputs, expected_targets = span_corrupt(tokens, spans)
        got, error = attempt(lambda t, s: tuple(list(part) for part in fn(t, s)), tokens, spans)
        if error:
            return verdict(False, error)
        if len(got) != 2:
            return verdict(False, "return two lists: (inputs, targets).")
        inputs, targets = got
        case = f"for {' '.join(tokens)!r} and spans {spans}"
        if inputs != expected_inputs:
            if any(token not in inputs for token in expected_inputs if token.startswith("<extra_id")):
                hint = f"each span becomes ONE sentinel, <extra_id_0>, <extra_id_1>, ... in order ({case})."
            else:
                hint = f"inputs: the tokens outside the spans, with each span replaced by its sentinel ({case})."
            return verdict(False, hint)
        if targets != expected_targets:
            if targets == expected_targets[:-1]:
                hint = f"the target ends with one more sentinel, {expected_targets[-1]}, after the last span."
            else:
                hint = f"targets: each span's sentinel followed by the tokens it hides ({case})."
            return verdict(False, hint)
    return verdict(True)
