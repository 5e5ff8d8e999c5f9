"""WordPiece written out: the merge score, and longest-match-first encoding that cuts text exactly as BERT does."""

import pytest
from transformers import AutoTokenizer

from llm_workshop import models
from llm_workshop.concepts import wordpiece
from llm_workshop.course import data


@pytest.fixture(scope="module")
def bert():
    return AutoTokenizer.from_pretrained(models.hub_files("distilbert"))


def bert_words(tok, text: str) -> list[str]:
    backend = tok.backend_tokenizer
    return [word for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]


def test_spell_marks_every_character_after_the_first():
    assert wordpiece.spell("cat") == ("c", "##a", "##t")
    assert wordpiece.spell("a") == ("a",) and wordpiece.spell("") == ()


def test_pair_score_is_the_pair_count_over_the_product_of_the_unit_counts():
    words = {("a", "##b"): 3, ("a", "##c"): 1, ("d", "##b"): 2}  # a: 4, ##b: 5, ##c: 1, d: 2
    scores = wordpiece.pair_scores(words)
    assert scores == pytest.approx({("a", "##b"): 3 / 20, ("a", "##c"): 1 / 4, ("d", "##b"): 2 / 10})
    assert max(scores, key=scores.get) == ("a", "##c")  # the rarest parts, not the most frequent pair


def test_longest_match_first_cuts_the_held_out_story_as_bert_does(bert):
    text = data.stories()[-1][1] + " abc🔍def 福尔摩斯 Élémentaire naïve " + "x" * 120
    vocab = bert.get_vocab()
    ours = [piece for word in bert_words(bert, text) for piece in wordpiece.encode_word(word, vocab)]
    assert ours == bert.convert_ids_to_tokens(bert(text, add_special_tokens=False, verbose=False)["input_ids"])


def test_a_word_no_entry_can_spell_is_one_unknown_token():
    vocab = {"ab", "##c", "a", "##b"}
    assert wordpiece.encode_word("abc", vocab) == ["ab", "##c"]  # the longest match, not a + ##b + ##c
    assert wordpiece.encode_word("abd", vocab) == ["[UNK]"]  # "d" is nowhere: the whole word goes
    assert wordpiece.encode_word("ab" * 60, vocab | {"##a"}, max_chars=100) == ["[UNK]"]
