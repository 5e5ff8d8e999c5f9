"""The README states relations, not numbers: each sits in a `<!-- measured: ... -->` comment that names it in terms of
build/measured.json, which `make run` writes from the lines the lesson notebooks print (and checks it against).

A relation is `LESSON/NAME OP TERM`: TERM is another LESSON/NAME, a number or a 'quoted string', OP one of
< <= == != >= >; several in one comment are separated by `;`. Example: `<!-- measured: 3.3/tuned_accuracy > 0.5 -->`.
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import run_course  # noqa: E402

MEASURED = ROOT / "build" / "measured.json"


def test_relations_are_read_and_can_fail():
    text = (
        "lifts it <!-- measured: 3.3/tuned > 3.3/base; 3.3/tuned >= 0.5 --> and <!-- measured: 1.3/answer == 'V H' -->"
    )
    assert run_course.relations(text) == ["3.3/tuned > 3.3/base", "3.3/tuned >= 0.5", "1.3/answer == 'V H'"]
    measured = {"3.3": {"base": 0.0, "tuned": 0.64}, "1.3": {"answer": "V H"}}
    assert run_course.contradicted(text, measured) == []
    assert not run_course.holds("3.3/tuned > 0.7", measured)
    assert not run_course.holds("1.3/answer != 'V H'", measured)
    assert run_course.contradicted("<!-- measured: 3.3/tuned < 3.3/base; 3.3/gone > 0 -->", measured) == [
        "3.3/tuned < 3.3/base",
        "3.3/gone > 0 (3.3/gone was not measured (lessons: ['1.3', '3.3']); LESSON_LINES says what is read)",
    ]
    with pytest.raises(ValueError, match="cannot read the relation"):
        run_course.holds("3.3/tuned is big", measured)


def test_readme_relations_name_values_a_lesson_line_prints():
    lesson_values = {
        f"{run_course.lesson_id(path)}/{name}" for path, lines in run_course.LESSON_LINES.items() for name in lines
    }
    stated = run_course.relations((ROOT / "README.md").read_text())
    assert stated, "the README states no measured relation (<!-- measured: ... --> comments)"
    terms = {term for relation in stated for term in run_course.RELATION.match(relation).group(1, 3) if "/" in term}
    assert terms <= lesson_values, (
        f"README relations name values no lesson line prints: {sorted(terms - lesson_values)}"
    )


@pytest.mark.skipif(not MEASURED.is_file(), reason="no build/measured.json: `make run` writes it")
def test_readme_relations_hold_in_the_last_run():
    measured = json.loads(MEASURED.read_text())
    failing = run_course.contradicted((ROOT / "README.md").read_text(), measured)
    assert not failing, f"README relations that the last `make run` contradicts: {failing}; measured {measured}"
