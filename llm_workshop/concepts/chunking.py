"""Split the Sherlock Holmes corpus into retrievable chunks: by paragraphs, or by windows of tokens with overlap; and
cut a chunk into sentences (sentence-window retrieval hands a generator a chunk's best sentences).

Every chunk keeps its story title and its character offsets in `data.load_corpus()`, so a question's gold evidence
(an offset in the book) can be matched to whichever chunks cover it, whatever the chunking.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from llm_workshop.course.data import load_corpus, stories

Span = tuple[int, int]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[‘“A-Z_])")


@dataclass(frozen=True)
class Chunk:
    """A piece of one story: an id, the story title, the text (whitespace collapsed) and its [start, end) in the book."""

    id: str
    story: str
    text: str
    start: int
    end: int


def story_spans() -> list[tuple[str, Span]]:
    """Each story's title and the [start, end) of its text in `load_corpus()`."""
    corpus, spans, cursor = load_corpus(), [], 0
    for title, body in stories():
        start = corpus.index(body, cursor)
        spans.append((title, (start, start + len(body))))
        cursor = start + len(body)
    return spans


def paragraph_spans(text: str) -> list[Span]:
    """The [start, end) of each paragraph of `text` (split at blank lines as `data.paragraphs` does), trimmed."""
    bounds = [0] + [i for gap in re.finditer(r"\n\s*\n", text) for i in gap.span()] + [len(text)]
    spans = []
    for a, b in zip(bounds[::2], bounds[1::2]):
        inner = re.search(r"\S(?:.*\S)?", text[a:b], flags=re.DOTALL)
        if inner:
            spans.append((a + inner.start(), a + inner.end()))
    return spans


def word_spans(text: str) -> list[Span]:
    """The [start, end) of each whitespace-separated word of `text`."""
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def tokenizer_spans(tokenizer) -> Callable[[str], list[Span]]:
    """A span function that cuts text into a Hugging Face fast tokenizer's tokens (character offsets of each)."""

    def spans(text: str) -> list[Span]:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [tuple(span) for span in encoded["offset_mapping"]]

    return spans


def _chunk(corpus: str, story_index: int, kind: str, number: int, title: str, start: int, end: int) -> Chunk:
    """A Chunk whose id reads like s03-p0012 (story 3, paragraph chunk 12)."""
    return Chunk(f"s{story_index:02d}-{kind}{number:04d}", title, " ".join(corpus[start:end].split()), start, end)


def paragraph_chunks(min_words: int = 1) -> list[Chunk]:
    """One chunk per paragraph of every story (paragraphs of fewer than `min_words` words are dropped)."""
    if min_words < 1:
        raise ValueError(f"min_words must be at least 1, got {min_words}")
    corpus, chunks = load_corpus(), []
    for index, (title, (story_start, story_end)) in enumerate(story_spans(), start=1):
        kept = [
            (story_start + a, story_start + b)
            for a, b in paragraph_spans(corpus[story_start:story_end])
            if len(corpus[story_start + a : story_start + b].split()) >= min_words
        ]
        chunks += [_chunk(corpus, index, "p", n, title, a, b) for n, (a, b) in enumerate(kept)]
    return chunks


def token_chunks(size: int, overlap: int, spans: Callable[[str], list[Span]] = word_spans) -> list[Chunk]:
    """Windows of `size` tokens, each starting `size - overlap` tokens after the last, within each story.

    `spans` cuts a story into tokens: words by default, or a model's tokens with `tokenizer_spans(tokenizer)`.
    The last window of a story ends at the story's last token (it may overlap its neighbour by more).
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(
            f"need size >= 1 and 0 <= overlap < size (a window must move forward); got {size=}, {overlap=}"
        )
    corpus, chunks, stride = load_corpus(), [], size - overlap
    for index, (title, (story_start, story_end)) in enumerate(story_spans(), start=1):
        tokens = spans(corpus[story_start:story_end])
        starts = list(range(0, max(len(tokens) - size, 0) + 1, stride))
        if starts[-1] + size < len(tokens):
            starts.append(len(tokens) - size)
        for n, first in enumerate(starts):
            last = min(first + size, len(tokens)) - 1
            chunks.append(
                _chunk(corpus, index, "t", n, title, story_start + tokens[first][0], story_start + tokens[last][1])
            )
    return chunks


def covering(chunks: list[Chunk], start: int, end: int) -> list[int]:
    """Indices of the chunks that contain the whole character span [start, end) of the book."""
    return [i for i, c in enumerate(chunks) if c.start <= start and end <= c.end]


def sentences(text: str, min_words: int = 3) -> list[str]:
    """`text` cut into sentences (at . ! or ? before a capital or an opening quote) of at least `min_words` words:
    the units of sentence-window retrieval, which hands the generator a chunk's best sentences, not the chunk."""
    return [s for s in _SENTENCE_END.split(" ".join(text.split())) if len(s.split()) >= min_words]
