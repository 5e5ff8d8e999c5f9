"""Questions about the stories with answers in a passage of the text, and a support check for generated answers.

Closed book, a model answers from what it remembers; open book, the passage is in the prompt. The support check
asks whether an answer's content words appear in the passage: a crude, automatic hallucination metric (real
systems use an entailment model or an LLM judge, which must then be checked in turn).
"""

from __future__ import annotations

import re
from functools import lru_cache

from llm_workshop.course.data import stories

# (story, question, answer, a plausible wrong answer, an anchor: words of the sentence the answer is near)
READING_QUESTIONS = [
    ("A Scandal in Bohemia", "Which woman does Sherlock Holmes always call “the woman”?", "Irene Adler", "Mary Sutherland", "In his eyes she eclipses"),
    ("A Scandal in Bohemia", "Under what name does the King of Bohemia first introduce himself to Holmes?", "Count Von Kramm", "Lord Robert St. Simon", "You may address me as the Count Von Kramm"),
    ("The Red-headed League", "What kind of business does Jabez Wilson have at Coburg Square?", "pawnbroker’s business", "a bank", "small pawnbroker’s business at Coburg Square"),
    ("The Red-headed League", "What must the members of the Red-headed League copy out?", "the Encyclopaedia Britannica", "the Bible", "Is to copy out the Encyclopaedia Britannica"),
    ("A Case of Identity", "Whose disappearance does Mary Sutherland want Holmes to explain?", "Hosmer Angel", "Neville St. Clair", "what has become of Mr. Hosmer Angel"),
    ("The Boscombe Valley Mystery", "Where did McCarthy walk on the afternoon of June 3rd?", "the Boscombe Pool", "Briony Lodge", "walked down to the Boscombe Pool"),
    ("The Five Orange Pips", "What jumped out of the letter with the Pondicherry postmark?", "orange pips", "a blue stone", "out there jumped five little dried orange pips"),
    ("The Man with the Twisted Lip", "What is the name of the beggar who lives above the opium den?", "Hugh Boone", "Jabez Wilson", "His name is Hugh Boone"),
    ("The Adventure of the Blue Carbuncle", "What did the commissionaire’s wife find in the crop of the goose?", "blue stone", "five orange pips", "See what my wife found in its crop"),
    ("The Adventure of the Blue Carbuncle", "From whom did the goose with the stone come?", "Henry Baker", "John Turner", "the goose came from Mr. Henry Baker"),
    ("The Adventure of the Speckled Band", "Who does Helen Stoner live with?", "stepfather", "her aunt", "I am living with my stepfather"),
    ("The Adventure of the Engineer’s Thumb", "What is Victor Hatherley’s profession?", "hydraulic engineer", "pawnbroker", "Victor Hatherley, hydraulic engineer"),
    ("The Adventure of the Noble Bachelor", "Whom is Lord Robert St. Simon going to marry?", "Hatty Doran", "Irene Adler", "between Lord Robert St. Simon"),
    ("The Adventure of the Beryl Coronet", "Which man has a strong influence over Arthur?", "Sir George Burnwell", "Mr. Windibank", "such a man as Sir George Burnwell"),
    ("The Adventure of the Copper Beeches", "What situation has Violet Hunter been offered?", "governess", "typist", "offered to me as governess"),
]  # fmt: skip
STOPWORDS = frozenset(
    "a an the of to in on at by for with from and or but is are was were be been it its his her he she they them "
    "their this that these those who whom whose what which where when why how did does do had has have as into "
    "s i me my you your mr mrs miss dr".split()
)
_SENTENCE_END = re.compile(r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bDr\.)(?<!\bSt\.)(?:(?<=[.!?])|(?<=[.!?][’”]))\s+(?=[“‘A-Z])")


def sentences(text: str) -> list[str]:
    """Split prose into sentences (whitespace collapsed, _italics_ marks dropped); Mr./Mrs./Dr./St. do not end one."""
    return _SENTENCE_END.split(" ".join(text.replace("_", "").split()))


def passage(story: str, anchor: str, around: int = 2) -> str:
    """The sentence of `story` that holds `anchor`, with `around` sentences on each side."""
    texts = dict(stories())
    if story not in texts:
        raise KeyError(f"no story titled {story!r}; the titles are in llm_workshop.data.STORY_TITLES")
    parts = sentences(texts[story])
    hits = [i for i, s in enumerate(parts) if anchor in s]
    if not hits:
        raise ValueError(f"{anchor!r} is not in any sentence of {story!r}; quote the text exactly")
    return " ".join(parts[max(0, hits[0] - around) : hits[0] + around + 1])


@lru_cache(maxsize=1)
def reading_items() -> tuple[dict, ...]:
    """READING_QUESTIONS as dicts with their passage as `context`; each answer occurs in its passage."""
    items = []
    for story, question, answer, wrong, anchor in READING_QUESTIONS:
        context = passage(story, anchor)
        if answer.lower() not in context.lower():
            raise ValueError(f"the answer {answer!r} is not in the passage of {story!r}; move the anchor")
        items.append({"story": story, "question": question, "answer": answer, "wrong": wrong, "context": context})
    return tuple(items)


def content_words(text: str) -> list[str]:
    """Lower-case runs of letters and digits in `text`, stop words (and the s of 's) removed."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [w for w in words if w not in STOPWORDS]


def support_score(answer: str, context: str) -> float:
    """Share of the answer's content words that occur in the context; an answer with none scores 0."""
    words = content_words(answer)
    if not words:
        return 0.0
    available = set(content_words(context))
    return sum(w in available for w in words) / len(words)


def is_supported(answer: str, context: str, threshold: float = 0.5) -> bool:
    """Whether at least `threshold` of the answer's content words are in the context (an unsupported answer is a
    likely hallucination, whether or not it happens to be true)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    return support_score(answer, context) >= threshold


def is_correct(answer: str, gold: str) -> bool:
    """Whether every content word of the gold answer occurs in the model's answer."""
    return set(content_words(gold)) <= set(content_words(answer))
