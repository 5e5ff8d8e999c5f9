"""The course data: the corpus, *The Adventures of Sherlock Holmes* (Project Gutenberg #1661), and the news
sentences the smoke models are pre-trained on.

The corpus file keeps the Gutenberg licence; the header and footer are stripped only when loading.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_PATH = REPO_ROOT / "assets" / "data" / "pg1661.txt"
HUB_ASSETS = REPO_ROOT / "assets" / "hub"  # the real config and tokenizer files (no weights) of the Hub checkpoints
START_MARKER = "*** START OF THIS PROJECT GUTENBERG EBOOK"
END_MARKER = "*** END OF THIS PROJECT GUTENBERG EBOOK"
STORY_TITLES = (
    "A Scandal in Bohemia",
    "The Red-headed League",
    "A Case of Identity",
    "The Boscombe Valley Mystery",
    "The Five Orange Pips",
    "The Man with the Twisted Lip",
    "The Adventure of the Blue Carbuncle",
    "The Adventure of the Speckled Band",
    "The Adventure of the Engineer’s Thumb",
    "The Adventure of the Noble Bachelor",
    "The Adventure of the Beryl Coronet",
    "The Adventure of the Copper Beeches",
)


def strip_gutenberg(raw: str) -> str:
    """Return the book text between the Gutenberg START and END markers (each spans two lines)."""
    start = raw.find(START_MARKER)
    end = raw.find(END_MARKER)
    if start < 0 or end < 0:
        raise ValueError("the text has no Project Gutenberg START/END markers; is it pg1661.txt?")
    body_start = raw.index("***", start + 3) + 3  # the marker closes with *** on its second line
    return raw[body_start:end].strip()


@lru_cache(maxsize=4)
def load_corpus(path: str | Path | None = None) -> str:
    """The cleaned book text, header and footer removed, line breaks normalised to \\n."""
    path = Path(path) if path is not None else CORPUS_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"The course corpus was not found at {path}. Restore it with "
            "`git checkout -- assets/data/pg1661.txt`, or download Project Gutenberg eBook #1661 "
            "(The Adventures of Sherlock Holmes, plain text UTF-8) to that path."
        )
    raw = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    return strip_gutenberg(raw)


def stories(path: str | Path | None = None) -> list[tuple[str, str]]:
    """The 12 stories as (title, text), found by their unindented title lines (the contents are indented)."""
    text = load_corpus(path)
    pattern = "|".join(re.escape(title) for title in STORY_TITLES)
    heads = list(re.finditer(rf"^({pattern})[ \t]*$", text, flags=re.MULTILINE))
    if len(heads) != len(STORY_TITLES):
        raise ValueError(f"expected {len(STORY_TITLES)} story headings, found {len(heads)}")
    result = []
    for i, match in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        result.append((match.group(1), text[match.end() : end].strip()))
    return result


def paragraphs(text: str, min_words: int = 1) -> list[str]:
    """Split text at blank lines into paragraphs with inner line breaks joined by spaces."""
    parts = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return [p for p in parts if len(p.split()) >= min_words]


def news_text() -> str:
    """News sentences shipped in gensim's test data (the Lee corpus): the smoke models' 'pre-training' text."""
    from gensim.test.utils import datapath

    return Path(datapath("lee_background.cor")).read_text(encoding="utf-8", errors="replace")
