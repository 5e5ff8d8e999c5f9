"""Execution accuracy: a predicted query is right when it returns the gold query's rows in the sandbox."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from pathlib import Path

from llm_workshop.concepts.sql.sandbox import execute_readonly

# --- scoring -------------------------------------------------------------------------------


def _normalise(rows: list[tuple]) -> list[tuple]:
    """Round floats so that equal answers computed in different ways compare equal."""
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


def rows_match(pred_rows: list[tuple], gold_rows: list[tuple], ordered: bool) -> bool:
    """Whether two results hold the same rows (as multisets, or in the same order when `ordered`)."""
    pred, gold = _normalise(pred_rows), _normalise(gold_rows)
    if ordered:
        return pred == gold
    return Counter(map(repr, pred)) == Counter(map(repr, gold))


def _rows_or_none(db_path: str | Path, sql: str) -> list[tuple] | None:
    """The query's rows from the sandbox, or None when it fails or is refused: a model's bad SQL is an answer too."""
    try:
        return execute_readonly(db_path, sql)
    except (sqlite3.Error, ValueError, TimeoutError):
        return None


def execution_match(pred_sql: str, gold_sql: str, db_path: str | Path) -> bool:
    """True when the predicted query returns the gold query's rows; a failing or refused prediction is False."""
    gold_rows = execute_readonly(db_path, gold_sql)
    ordered = re.search(r"\border\s+by\b", gold_sql, re.IGNORECASE) is not None
    pred_rows = _rows_or_none(db_path, pred_sql)
    return pred_rows is not None and rows_match(pred_rows, gold_rows, ordered)


def runs(db_path: str | Path, sql: str) -> bool:
    """Whether the sandbox runs `sql` without an error or a refusal, whatever its answer: is it valid, safe SQL?"""
    return _rows_or_none(db_path, sql) is not None


def execution_accuracy(pred_sqls: list[str], gold_sqls: list[str], db_path: str | Path) -> float:
    """The fraction of predictions whose result rows match the gold result (order matters only if gold orders)."""
    if len(pred_sqls) != len(gold_sqls):
        raise ValueError(f"got {len(pred_sqls)} predictions for {len(gold_sqls)} gold queries; pass one per example")
    if not gold_sqls:
        raise ValueError("no queries to score; pass at least one prediction and its gold query")
    return sum(execution_match(p, g, db_path) for p, g in zip(pred_sqls, gold_sqls)) / len(gold_sqls)
