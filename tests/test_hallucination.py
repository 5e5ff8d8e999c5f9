"""Reading questions with their passages, and the support check that scores answers against the passage."""

import pytest

from llm_workshop.concepts import hallucination


def test_every_answer_is_in_its_passage_and_no_wrong_answer_is():
    items = hallucination.reading_items()
    assert len(items) == len(hallucination.READING_QUESTIONS) == 15
    for item in items:
        assert item["answer"].lower() in item["context"].lower()
        assert hallucination.is_supported(item["answer"], item["context"])
        assert not hallucination.is_supported(item["wrong"], item["context"])
        assert 20 < len(item["context"].split()) < 250


def test_sentences_do_not_end_at_titles():
    parts = hallucination.sentences("Mr. Holmes met Dr. Watson.  “Good!” said he. St. Simon _smiled_.")
    assert parts == ["Mr. Holmes met Dr. Watson.", "“Good!” said he.", "St. Simon smiled."]


def test_support_score_and_correctness():
    context = "Miss Hatty Doran, the only daughter of Aloysius Doran, of San Francisco."
    assert hallucination.content_words("The daughter’s name was Hatty") == ["daughter", "name", "hatty"]
    assert hallucination.content_words("daughter's") == hallucination.content_words("daughter’s")
    assert hallucination.support_score("Hatty Doran", context) == 1.0
    assert hallucination.support_score("Hatty Smith", context) == 0.5
    assert hallucination.support_score("the", context) == 0.0  # no content words: nothing supported
    assert hallucination.is_supported("Miss Hatty Doran", context)
    assert not hallucination.is_supported("Irene Adler of Briony Lodge", context)
    assert hallucination.is_correct("It was Sir George Burnwell.", "Sir George Burnwell")
    assert not hallucination.is_correct("George", "Sir George Burnwell")


def test_bad_input_is_a_sentence():
    with pytest.raises(KeyError, match="no story titled"):
        hallucination.passage("The Hound of the Baskervilles", "hound")
    with pytest.raises(ValueError, match="quote the text exactly"):
        hallucination.passage("A Scandal in Bohemia", "a sentence nobody wrote")
    with pytest.raises(ValueError, match="threshold"):
        hallucination.is_supported("a", "b", threshold=0)
