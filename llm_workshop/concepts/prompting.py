"""Data for 2.3's prompting lessons: labelled reviews for few-shot sentiment, and made-up facts to recall in context.

All of it was written for the course, so no model has seen it in pre-training.
"""

from __future__ import annotations

import random

REVIEW_LABELS = ["positive", "negative"]
# Solved examples to draw shots from, and a balanced test set.
REVIEW_SHOTS = [
    ("The soup was hot, fresh and full of flavour.", "positive"),
    ("The train was late again and nobody told us why.", "negative"),
    ("What a delightful little hotel, we will be back.", "positive"),
    ("The screen cracked after two days of careful use.", "negative"),
]

REVIEW_TEST_SET = [
    ("I loved every minute of this film.", "positive"),
    ("The staff were rude and the room smelled of smoke.", "negative"),
    ("A wonderful book that I could not put down.", "positive"),
    ("The battery dies within an hour, a total waste of money.", "negative"),
    ("Our guide was friendly, funny and very well informed.", "positive"),
    ("The package arrived broken and support never answered.", "negative"),
    ("Best coffee in town, and the cakes are even better.", "positive"),
    ("I regret buying these shoes; they hurt from the first day.", "negative"),
    ("The concert was magical from the first note to the last.", "positive"),
    ("Boring plot, flat characters and a silly ending.", "negative"),
    ("This little lamp makes my desk a happy place.", "positive"),
    ("The app crashes every time I try to log in.", "negative"),
    ("Fast delivery and the quality is excellent.", "positive"),
    ("The food was cold and far too salty.", "negative"),
    ("A brilliant, moving performance by the whole cast.", "positive"),
    ("The instructions were confusing and two screws were missing.", "negative"),
    ("My children adore this game and play it every evening.", "positive"),
    ("We waited an hour for a table and then the kitchen closed.", "negative"),
    ("Comfortable seats, clean carriages and a smooth ride.", "positive"),
    ("The paint started peeling after a week; very disappointing.", "negative"),
]

PEOPLE = ["Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivo", "Jan", "Kim", "Lea",
          "Max", "Nora", "Otto", "Pia", "Rosa", "Sam", "Tom", "Uma", "Vera", "Will", "Yara", "Zoe"]  # fmt: skip
COLOURS = ["red", "blue", "green", "yellow"]


def colour_facts(seed: int = 0) -> list[tuple[str, str]]:
    """A made-up favourite colour for each person, every colour equally often: facts no model can know."""
    colours = [COLOURS[i % len(COLOURS)] for i in range(len(PEOPLE))]
    random.Random(seed).shuffle(colours)
    return list(zip(PEOPLE, colours))
