import pytest

from llm_workshop.course import data


def test_corpus_is_stripped_of_gutenberg_header_and_footer():
    text = data.load_corpus()
    assert text.startswith("The Adventures of Sherlock Holmes")
    assert "PROJECT GUTENBERG" not in text.upper().replace("PROJECT GUTENBERG-TM", "")
    assert text.rstrip().endswith("considerable success.")


def test_twelve_stories_in_order():
    stories = data.stories()
    assert [title for title, _ in stories] == list(data.STORY_TITLES)
    assert stories[0][1].startswith("I.\n\n\nTo Sherlock Holmes she is always _the_ woman.")
    assert all(len(text) > 30_000 for _, text in stories)


def test_missing_file_says_where_and_how(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt.*git checkout"):
        data.load_corpus(missing)


def test_file_without_markers_is_refused(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("just some text")
    with pytest.raises(ValueError, match="START/END markers"):
        data.load_corpus(path)


def test_paragraphs_join_lines():
    assert data.paragraphs("a b\nc\n\n\nd e f\n", min_words=2) == ["a b c", "d e f"]
