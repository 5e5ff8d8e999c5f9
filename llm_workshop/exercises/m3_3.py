"""Exercise graders of 3.3 Instruction tuning for text-to-SQL: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from llm_workshop.concepts.sql.sandbox import execute_readonly
from llm_workshop.concepts.training import completion_labels
from llm_workshop.course.verdict import attempt, grader

EXERCISE_QUESTION = "What is the total amount spent (price times quantity) by customers from Paris?"


_EXERCISE_GOLD = (
    "SELECT SUM(products.price * orders.quantity) FROM orders "
    "JOIN customers ON orders.customer_id = customers.id JOIN products ON orders.product_id = products.id "
    "WHERE customers.city = 'Paris'"
)


@grader(
    "Three tables: orders has customer_id and product_id; customers has city; products has price.",
    "SELECT SUM(p.price * o.quantity) FROM orders o JOIN customers c ON ... JOIN products p ON ... WHERE c.city = ...",
)
def check_sql_exercise(sql: str, db_path: str | Path) -> tuple[bool, str]:
    """Run the learner's query for `EXERCISE_QUESTION` in the sandbox and compare its rows with the gold answer."""
    gold = execute_readonly(db_path, _EXERCISE_GOLD)
    rows, error = attempt(execute_readonly, db_path, sql)
    if error:
        return False, f"The sandbox refused it or SQLite could not run it: {error}."
    if len(rows) != len(gold):
        return False, f"Expected {len(gold)} row(s), got {len(rows)}; one number is the answer."
    value = rows[0][0] if rows and rows[0] else None
    if isinstance(value, int | float) and math.isclose(value, gold[0][0], rel_tol=1e-6):
        return True, ""
    return False, "The number differs; join orders to customers and products, filter on the city, SUM."


@grader(
    "input_ids is simply the two lists joined: prompt_ids + completion_ids.",
    "labels = [-100] * len(prompt_ids) + completion_ids",
)
def check_completion_labels(fn: Callable[[list[int], list[int]], tuple[list[int], list[int]]]) -> tuple[bool, str]:
    """Exercise check: `fn(prompt_ids, completion_ids)` must return (input_ids, labels) as `completion_labels` does."""
    for prompt, completion in [([5, 6, 7], [8, 9]), ([1], [2, 3, 4, 0]), ([11, 12], [13])]:
        answer, error = attempt(fn, list(prompt), list(completion))
        if error:
            return False, error
        expected = completion_labels(prompt, completion)
        try:
            got = tuple(list(map(int, part)) for part in answer)
        except (TypeError, ValueError):  # not a pair of id sequences
            got = None
        if got != expected:
            return False, (
                f"prompt {prompt}, completion {completion}: expected {expected}, got {answer!r}; the model sees "
                "prompt + completion, and every prompt position's label is -100"
            )
    return True, ""
