"""T5 span corruption: the sentinels, the target's closing sentinel, bad spans, and the exercise check."""

import pytest

from llm_workshop.concepts import objectives
from llm_workshop.concepts.objectives import sentinel
from llm_workshop.exercises import m1_3


def test_span_corruption_matches_the_t5_paper_example():
    tokens = "thank you for inviting me to your party last week".split()
    inputs, targets = objectives.span_corrupt(tokens, [(2, 4), (8, 9)])
    assert inputs == ["thank", "you", sentinel(0), "me", "to", "your", "party", sentinel(1), "week"]
    assert targets == [sentinel(0), "for", "inviting", sentinel(1), "last", sentinel(2)]


def test_spans_at_both_ends_and_no_span():
    tokens = list("abcdef")
    assert objectives.span_corrupt(tokens, [(0, 2), (5, 6)]) == (
        [sentinel(0), "c", "d", "e", sentinel(1)],
        [sentinel(0), "a", "b", sentinel(1), "f", sentinel(2)],
    )
    assert objectives.span_corrupt(tokens, []) == (tokens, [sentinel(0)])


@pytest.mark.parametrize("spans", [[(2, 2)], [(1, 3), (2, 4)], [(3, 4), (0, 1)], [(4, 9)], [(-1, 2)]])
def test_bad_spans_are_refused(spans):
    with pytest.raises(ValueError, match="span"):
        objectives.span_corrupt(list("abcdef"), spans)


def _same_sentinel(tokens, spans):
    inputs, targets = objectives.span_corrupt(tokens, spans)
    rename = {sentinel(i): sentinel(0) for i in range(len(spans) + 1)}
    return [rename.get(t, t) for t in inputs], [rename.get(t, t) for t in targets]


@pytest.mark.parametrize(
    ("fn", "ok", "hint"),
    [
        (objectives.span_corrupt, True, "Correct"),
        (lambda t, s: (objectives.span_corrupt(t, s)[0], objectives.span_corrupt(t, s)[1][:-1]), False, "one more"),
        (_same_sentinel, False, "ONE sentinel"),
        (lambda t, s: (list(t), objectives.span_corrupt(t, s)[1]), False, "ONE sentinel"),
        (lambda t, s: (objectives.span_corrupt(t, s)[0], list(t)), False, "targets:"),
        (lambda t, s: objectives.span_corrupt(t, s)[0], False, "two lists"),
        (lambda t, s: 1 / 0, False, "ZeroDivisionError"),
    ],
)
def test_check_span_corruption(fn, ok, hint, capsys):
    assert m1_3.check_span_corruption(fn) is ok
    assert hint in capsys.readouterr().out
