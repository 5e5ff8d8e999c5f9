"""Generated conversations the smoke "instruct" model is tuned on: judge with a reference, read, cite passages.

Facts are made up from the news text's ~5,000 words (names and values split 4:1 by a hash into "train" and "test"),
so a tiny model cannot learn the answers by heart and must copy them from its prompt; the last `TEST_RELATIONS`
relations are for testing only. An example is {"messages": [..., assistant reply], "split_user": bool, ...}.
Every reply is shaped for a 2-layer model whose one skill is copying (an induction head): it opens with words that
stand right before the source in the prompt, so the copy starts there (see `standins.instruct`).
"""

from __future__ import annotations

import random
import re
import zlib
from functools import lru_cache

from llm_workshop.concepts import grounding, judge
from llm_workshop.course.data import news_text

SPLITS = ("train", "test")
FIRST = {
    "train": ["Alma", "Basil", "Cora", "Dexter", "Edith", "Felix", "Greta", "Hugo", "Ingrid", "Jasper", "Katrin",
              "Leon", "Magda", "Nils", "Olga", "Pavel", "Rosa", "Simon", "Tilda", "Ulric", "Vera", "Walter", "Yara",
              "Zeno", "Agnes", "Bruno", "Clara", "Dmitri", "Elsa", "Fabian", "Gloria", "Harold", "Ida", "Julius"],
    "test": ["Lydia", "Oscar", "Petra", "Rupert", "Sabine", "Tobias", "Ursula", "Victor"],
}  # fmt: skip
LAST = {
    "train": ["Abbott", "Barlow", "Crane", "Dalton", "Ellis", "Fisher", "Gordon", "Hale", "Irving", "Jarvis",
              "Keller", "Lowe", "Marsh", "Norris", "Oakley", "Parker", "Quinn", "Rowe", "Sutton", "Tate", "Vance",
              "Webb", "Young", "Archer", "Brooks", "Carver", "Dunn", "Foster", "Gibbs", "Hayes"],
    "test": ["Lambert", "Morgan", "Pryor", "Radley", "Sinclair", "Thorne"],
}  # fmt: skip
VALUES = {
    "place": {"train": ["Dover", "Leeds", "York", "Bath", "Derby", "Exeter", "Oxford", "Chester", "Kendal",
                        "Norwich", "Ipswich", "Bristol", "Hull", "Luton", "Ripon", "Selby", "Wells", "Truro"],
              "test": ["Margate", "Whitby", "Durham", "Lincoln"]},
    "job": {"train": ["baker", "tailor", "banker", "butler", "doctor", "clerk", "sailor", "painter", "farmer",
                      "printer", "chemist", "jeweller", "surgeon", "teacher", "miller", "gardener"],
            "test": ["locksmith", "solicitor", "carpenter", "governess"]},
    "thing": {"train": ["silver key", "green lamp", "gold ring", "small box", "red scarf", "old map", "brass bell",
                        "black hat", "wooden pipe", "glass jar", "leather bag", "iron chest", "white feather"],
              "test": ["copper coin", "blue vase", "velvet glove", "ivory comb"]},
    "animal": {"train": ["dog", "cat", "horse", "parrot", "goose", "pony", "rabbit", "hound", "mare"],
               "test": ["ferret", "donkey", "canary"]},
}  # fmt: skip
# (fact sentence, [(question, slot holding the answer)])
RELATIONS = [
    ("{a} lives in {place}.", [("Where does {a} live?", "place"), ("Who lives in {place}?", "a")]),
    ("{a} works as a {job}.", [("What does {a} work as?", "job"), ("Who works as a {job}?", "a")]),
    ("{a} keeps a {thing} in the drawer.", [("What does {a} keep in the drawer?", "thing")]),
    ("{a} is going to marry {b}.", [("Whom is {a} going to marry?", "b"), ("Who is going to marry {b}?", "a")]),
    ("{a} bought a {animal} from {b}.", [("What did {a} buy from {b}?", "animal"), ("From whom did {a} buy a {animal}?", "b")]),
    ("{a} sent a letter to {b} from {place}.", [("To whom did {a} send a letter?", "b"), ("From where did {a} send the letter?", "place")]),
    ("{a} lost a {thing} near {place}.", [("What did {a} lose?", "thing"), ("Where did {a} lose the {thing}?", "place")]),
    ("The {thing} belongs to {a}.", [("Whose is the {thing}?", "a"), ("Who owns the {thing}?", "a")]),
    ("{a} was born in {place} and became a {job}.", [("Where was {a} born?", "place"), ("What did {a} become?", "job")]),
    ("{a} met {b} at the station in {place}.", [("Whom did {a} meet at the station?", "b"), ("Where did {a} meet {b}?", "place")]),
    ("{a} hired {b} as a {job}.", [("Who hired {b}?", "a"), ("As what did {a} hire {b}?", "job")]),
    ("A {animal} was found in the garden of {a}.", [("What was found in the garden of {a}?", "animal")]),
    ("{a} inherited a {thing} from {b}.", [("What did {a} inherit?", "thing"), ("From whom did {a} inherit the {thing}?", "b")]),
    ("{a} rents a room from {b} in {place}.", [("From whom does {a} rent a room?", "b"), ("In which town does {a} rent a room?", "place")]),
    ("The {job} of the village is {a}.", [("Who is the {job} of the village?", "a")]),
    ("{a} hid the {thing} under the floor.", [("What did {a} hide under the floor?", "thing"), ("Where did {a} hide the {thing}?", "floor")]),
    ("{a} travelled to {place} with {b}.", [("With whom did {a} travel?", "b"), ("Where did {a} travel to?", "place")]),
    ("{a} gave {b} a {thing}.", [("What did {a} give {b}?", "thing"), ("Who gave {b} a {thing}?", "a")]),
]  # fmt: skip
TEST_RELATIONS = 5  # the last five: their sentences and questions are for testing only
# Replies that copy a word start with a space: the smoke tokenizer then writes the word with the same token as in
# the prompt ("ĠSpeaker"), not its start-of-text variant ("Speaker"), which a tiny model copies badly.
LEAD = " "
READING_SYSTEMS = [
    grounding.SYSTEM_CLOSED,
    "Answer the question in a few words.",
    "Give a short answer to the question.",
]
RANK_PRIOR = (0.55, 0.25, 0.12)  # where the answer's passage sits among 1-3: a retriever ranks it first most often


def _check(n: int, split: str) -> None:
    if split not in SPLITS or n < 0:
        raise ValueError(f"split must be 'train' or 'test' and n >= 0; got {split!r}, {n}")


@lru_cache(maxsize=1)
def news_sentences() -> tuple[str, ...]:
    """The news text as sentences of 6 to 40 words (the last fifth of them is the test split's filler)."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"])", " ".join(news_text().split()))
    return tuple(s for s in parts if 6 <= len(s.split()) <= 40)


def _news(split: str) -> tuple[str, ...]:
    sentences = news_sentences()
    cut = len(sentences) * 4 // 5
    return sentences[:cut] if split == "train" else sentences[cut:]


@lru_cache(maxsize=1)
def news_words() -> dict[str, dict[str, list[str]]]:
    """Words of the news text, capitalised ("names") and lower case ("words"), split 4:1 by a hash of the word."""
    words = sorted(set(re.findall(r"\b[A-Za-z]{4,11}\b", news_text())))
    out: dict[str, dict[str, list[str]]] = {"names": {"train": [], "test": []}, "words": {"train": [], "test": []}}
    for w in words:
        kind = "names" if w[0].isupper() and w[1:].islower() else "words" if w.islower() else None
        if kind:
            out[kind]["test" if zlib.crc32(w.encode()) % 5 == 0 else "train"].append(w)
    return out


def _person(rng: random.Random, split: str, exclude: set[str] = frozenset()) -> str:
    names = news_words()["names"][split]
    while True:
        first = rng.choice(FIRST[split]) if rng.random() < 0.3 else rng.choice(names)
        name = f"{first} {rng.choice(LAST[split]) if rng.random() < 0.3 else rng.choice(names)}"
        if name not in exclude:
            return name


def _value(rng: random.Random, slot: str, split: str) -> str:
    """A value for a relation's slot: from the slot's own list now and then, else a random news word."""
    if rng.random() < 0.3:
        return rng.choice(VALUES[slot][split])
    return rng.choice(news_words()["names" if slot == "place" else "words"][split])


def random_fact(rng: random.Random, split: str, exclude: set[str] = frozenset()) -> dict:
    """A made-up fact {sentence, question, answer, wrong, subject}: a relation filled with fresh people and values."""
    first_test = len(RELATIONS) - TEST_RELATIONS
    sentence, questions = RELATIONS[rng.choice(range(first_test) if split == "train" else range(first_test, len(RELATIONS)))]  # fmt: skip
    a = _person(rng, split, exclude)
    slots = {"a": a, "b": _person(rng, split, exclude | {a}), "floor": "floor"}
    slots |= {k: _value(rng, k, split) for k in VALUES}
    question, slot = rng.choice(questions)
    if slot in ("a", "b"):
        wrong = _person(rng, split, {slots["a"], slots["b"]})
    else:
        wrong = _value(rng, slot, split) if slot in VALUES else "the roof"
    return {"sentence": sentence.format(**slots), "question": question.format(**slots), "answer": slots[slot],
            "wrong": wrong, "subject": a}  # fmt: skip


_SPAN = re.compile(r"(?<=[a-z,] )((?:[A-Z][a-z]+ ){0,2}[A-Z][a-z]+)(?=[ ,.])")


def cloze_fact(rng: random.Random, split: str) -> dict:
    """A question made from a news sentence by replacing a capitalised name in it with "what" (no fact invented)."""
    while True:
        sentence = rng.choice(_news(split))
        spans = [m for m in _SPAN.finditer(sentence) if len(m.group(1)) > 3]
        if spans:
            span = rng.choice(spans)
            question = sentence[: span.start()] + "what" + sentence[span.end() :]
            return {"sentence": sentence, "question": question.rstrip(" .") + "?", "answer": span.group(1),
                    "wrong": _person(rng, split), "subject": span.group(1)}  # fmt: skip


def _fact(rng: random.Random, split: str, cloze_share: float) -> dict:
    return cloze_fact(rng, split) if rng.random() < cloze_share else random_fact(rng, split)


def passage_with(rng: random.Random, split: str, sentence: str, max_filler: int) -> str:
    """`sentence` hidden among 0 to `max_filler` news sentences."""
    filler = [rng.choice(_news(split)) for _ in range(rng.randint(0, max_filler))]
    filler.insert(rng.randint(0, len(filler)), sentence)
    return " ".join(filler)


def _chat(system: str, user: str, reply: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user},
            {"role": "assistant", "content": reply}]  # fmt: skip


def reading_examples(n: int, seed: int = 0, split: str = "train", closed_share: float = 0.3) -> list[dict]:
    """Questions closed book (the question alone) and open book ("Passage: ...\\n\\nQuestion: ...").

    Open book the reply copies the answer from the passage; closed book it is a plausible guess of the same kind (a
    wrong answer): without the text the stand-in makes something up, as small models do.
    """
    _check(n, split)
    rng, out = random.Random(f"reading-{seed}-{split}"), []
    for _ in range(n):
        fact, system = _fact(rng, split, 0.2), rng.choice(READING_SYSTEMS)
        closed = rng.random() < closed_share
        sentences = [fact["sentence"], random_fact(rng, split, exclude={fact["subject"]})["sentence"]]
        rng.shuffle(sentences)
        text = passage_with(rng, split, " ".join(sentences), 2)
        user = fact["question"] if closed else f"Passage: {text}\n\nQuestion: {fact['question']}"
        reply = LEAD + (fact["wrong"] if closed else fact["answer"])
        out.append({"task": "closed" if closed else "open", "messages": _chat(system, user, reply),
                    "answer": fact["answer"]})  # fmt: skip
    return out


def judge_examples(n: int, seed: int = 0, split: str = "train") -> list[dict]:
    """Pairwise judging with a reference answer (`judge.judge_messages`): the reply restates the reference, then
    gives the letter of the answer that agrees with it (`judge.judge_reply`).

    The reply opens with "Reference answer:", the words before the reference in the prompt, so the copying circuit
    finds the reference and, after it, the letter that follows the same words among the answers.
    """
    _check(n, split)
    rng, out = random.Random(f"judge-{seed}-{split}"), []
    for _ in range(n):
        fact = _fact(rng, split, 0.4)
        if rng.random() < 0.4:  # longer answers too: "the Encyclopaedia Britannica", "pawnbroker's business"
            words = news_words()["words"][split]
            fact["answer"] = " ".join([fact["answer"]] + [rng.choice(words) for _ in range(rng.randint(1, 2))])
            fact["wrong"] = " ".join([fact["wrong"]] + [rng.choice(words) for _ in range(rng.randint(0, 2))])
            fact["answer"] = fact["answer"].replace(" ", "’s ", 1) if rng.random() < 0.2 else fact["answer"]
        good = rng.choice(["", "", "", "the ", "It is "]) + fact["answer"]
        bad = rng.choice(["", "", "", "the ", "It is "]) + fact["wrong"]
        first = rng.random() < 0.5
        a, b = (good, bad) if first else (bad, good)
        messages = judge.judge_messages(fact["question"], a, b, reference=fact["answer"])
        reply = judge.judge_reply(fact["answer"], "A" if first else "B")
        out.append({"task": "judge", "messages": messages + [{"role": "assistant", "content": reply}]})
    return out


def cite_reply(passages: list[str], gold: int) -> str:
    """The grounded reply: the id of the passage holding the answer, then that passage quoted.

    The id comes first: once the model has written "[2]", its copying circuit finds "[2]" in the prompt and copies
    what follows, so the quote is exact (which passage to cite it does not learn: it follows the retriever's order).
    """
    return f"[{gold}] {passages[gold - 1]}"


def rag_examples(n: int, seed: int = 0, split: str = "train", guarded_share: float = 0.25) -> list[dict]:
    """Grounded answers (`grounding.grounded_messages`, guarded or not): 1-3 passages in retrieval order, the
    answer's passage placed by `RANK_PRIOR`; the reply cites and quotes it."""
    _check(n, split)
    rng, out = random.Random(f"rag-{seed}-{split}"), []
    for _ in range(n):
        fact, k = random_fact(rng, split), rng.randint(1, len(RANK_PRIOR))

        def after(sentence: str) -> str:
            return " ".join([sentence] + [rng.choice(_news(split)) for _ in range(rng.randint(0, 3))])

        passages = [after(random_fact(rng, split, exclude={fact["subject"]})["sentence"]) for _ in range(k)]
        gold = rng.choices(range(1, k + 1), weights=RANK_PRIOR[:k])[0]
        passages[gold - 1] = after(fact["sentence"])
        messages = grounding.grounded_messages(fact["question"], passages, guarded=rng.random() < guarded_share)
        out.append({"task": "rag", "messages": messages + [{"role": "assistant", "content": cite_reply(passages, gold)}],
                    "answer": fact["answer"], "gold": gold, "passages": passages, "question": fact["question"]})  # fmt: skip
    return out
