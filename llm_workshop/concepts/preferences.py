"""Preference data for alignment: a sentiment lexicon (the smoke tier's "human preference"), review-opener
prompts, generated preference pairs, and pairs and prompts cut from IMDB reviews in the full tier.

Plain data, no models: `models` builds the smoke sentiment classifier from this lexicon.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

# A sentiment lexicon. The smoke tier's "human preference" is: more of the first list, less of the second.
POSITIVE_WORDS = frozenset(
    "good great best better wonderful excellent beautiful lovely fine pleasant brilliant delightful charming "
    "superb perfect happy kind gentle love hope peace friend success safe enjoy glad".split()
)
NEGATIVE_WORDS = frozenset(
    "bad worst worse terrible awful boring poor dull ugly horrible sad weak stupid dreadful hate fear "
    "dead death killed kill attack bomb war terror violence crash fail".split()
)
REVIEW_OPENERS = (
    "The movie was",
    "This film is",
    "I watched it and",
    "The acting was",
    "The story of this film",
    "My friend said the movie",
    "The ending was",
    "This picture is",
    "I thought the plot",
    "The music in this film",
    "Honestly, the film",
    "The cast was",
)
_SUBJECTS = ("the story", "the acting", "the ending", "the music", "every scene", "the cast", "the plot")
_ADJ_POS = ("good", "great", "wonderful", "excellent", "beautiful", "lovely", "brilliant", "perfect", "pleasant")
_ADJ_NEG = ("bad", "terrible", "awful", "boring", "poor", "dull", "horrible", "stupid", "dreadful")
_TEMPLATES = (
    " {a}, and {s} was {b}.",
    " a {a} film with a {b} ending.",
    " {a} from start to finish; {s} felt {b}.",
    " really {a}. I found {s} {b}.",
    " {a} and {b}, and {s} was {a} too.",
    " not what I expected: {a}, with {s} {b}.",
)
_WORD = re.compile(r"[a-z]+")


def lexicon_score(text: str) -> float:
    """Positive-lexicon words minus negative-lexicon words in `text` (lower-cased): the smoke tier's true reward."""
    words = _WORD.findall(text.lower())
    return float(sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words))


def review_prompts(n: int, seed: int = 0) -> list[str]:
    """`n` short review openers (IMDB-style prompts for the smoke tier), drawn with a seeded RNG."""
    rng = random.Random(seed)
    return [rng.choice(REVIEW_OPENERS) for _ in range(n)]


def generated_pairs(n: int, seed: int = 0) -> list[dict[str, str]]:
    """`n` preference pairs {prompt, chosen, rejected}: the same sentence template, positive vs negative words."""
    if n < 1:
        raise ValueError(f"n must be a positive number of pairs, got {n}")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        template, subject = rng.choice(_TEMPLATES), rng.choice(_SUBJECTS)
        good, bad = rng.sample(_ADJ_POS, 2), rng.sample(_ADJ_NEG, 2)
        pairs.append(
            {
                "prompt": rng.choice(REVIEW_OPENERS),
                "chosen": template.format(a=good[0], b=good[1], s=subject),
                "rejected": template.format(a=bad[0], b=bad[1], s=subject),
            }
        )
    return pairs


def pairs_from_reviews(
    texts: Sequence[str],
    labels: Sequence[int],
    n: int,
    seed: int = 0,
    prompt_words: int = 4,
    completion_words: int = 40,
) -> list[dict[str, str]]:
    """Preference pairs from labelled reviews (1 = positive): a positive review's opening is the prompt, its
    continuation is chosen, and the continuation of a negative review is rejected."""
    positive = [t for t, y in zip(texts, labels) if y == 1]
    negative = [t for t, y in zip(texts, labels) if y == 0]
    if not positive or not negative:
        raise ValueError("pairs_from_reviews needs both positive (label 1) and negative (label 0) reviews")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        good, bad = rng.choice(positive).split(), rng.choice(negative).split()
        end = prompt_words + completion_words
        pairs.append(
            {
                "prompt": " ".join(good[:prompt_words]),
                "chosen": " " + " ".join(good[prompt_words:end]),
                "rejected": " " + " ".join(bad[prompt_words:end]),
            }
        )
    return pairs
