"""Chunks keep their text, story and offsets; windows overlap by exactly the requested number of tokens."""

import pytest

from llm_workshop.concepts import chunking
from llm_workshop.course import data


def test_paragraph_chunks_equal_data_paragraphs_and_slice_the_book():
    chunks = chunking.paragraph_chunks()
    expected = [p for _, body in data.stories() for p in data.paragraphs(body)]
    assert [c.text for c in chunks] == expected, "paragraph chunks differ from data.paragraphs of each story"
    corpus = data.load_corpus()
    assert all(" ".join(corpus[c.start : c.end].split()) == c.text for c in chunks), "an offset does not slice its text"
    assert len({c.id for c in chunks}) == len(chunks), "chunk ids are not unique"
    assert {c.story for c in chunks} == set(data.STORY_TITLES)


def test_min_words_drops_short_paragraphs():
    assert all(len(c.text.split()) >= 30 for c in chunking.paragraph_chunks(min_words=30))
    with pytest.raises(ValueError, match="min_words"):
        chunking.paragraph_chunks(min_words=0)


def test_word_windows_overlap_by_the_requested_words_and_cover_every_story():
    size, overlap = 100, 20
    chunks = chunking.token_chunks(size, overlap)
    corpus = data.load_corpus()
    for (title, (start, end)), first in zip(chunking.story_spans(), [c for c in chunks if c.id.endswith("t0000")]):
        mine = [c for c in chunks if c.story == title]
        assert mine[0].start == start and mine[-1].end == end, f"{title}: windows do not cover the story"
        assert first.story == title
        for a, b in zip(mine, mine[1:-1]):
            shared = len(corpus[b.start : a.end].split())
            assert shared == overlap, f"{a.id} and {b.id} share {shared} words, expected {overlap}"
    assert all(len(c.text.split()) == size for c in chunks), "a window does not hold exactly `size` words"


def test_tokenizer_windows_hold_at_most_size_model_tokens():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(data.HUB_ASSETS / "distilbert-base-uncased")
    chunks = chunking.token_chunks(128, 32, chunking.tokenizer_spans(tokenizer))
    lengths = [len(tokenizer(c.text, add_special_tokens=False)["input_ids"]) for c in chunks[:200]]
    assert max(lengths) <= 128 and min(lengths) >= 100, f"token counts {min(lengths)}..{max(lengths)}, expected <= 128"


@pytest.mark.parametrize("size, overlap", [(0, 0), (10, 10), (10, -1)])
def test_bad_window_sizes_raise_a_sentence(size, overlap):
    with pytest.raises(ValueError, match="window must move forward"):
        chunking.token_chunks(size, overlap)


def test_covering_finds_the_chunks_around_a_span():
    chunks = chunking.token_chunks(50, 10)
    middle = chunks[5]
    assert 5 in chunking.covering(chunks, middle.start + 1, middle.start + 5)
    assert chunking.covering(chunks, 0, 10**9) == []


def test_sentences_split_at_ends_before_capitals_and_quotes_and_drop_short_ones():
    text = "He rose.  “Where to?” said I. ‘To Eyford, in Berkshire.’ It was late. Ok. and so on 3.5 miles."
    got = chunking.sentences(text)
    assert got == ["“Where to?” said I.", "‘To Eyford, in Berkshire.’ It was late.", "Ok. and so on 3.5 miles."], got
    assert chunking.sentences(text, min_words=1)[:2] == ["He rose.", "“Where to?” said I."]
