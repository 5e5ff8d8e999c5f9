"""A read-only SQL sandbox: `execute_readonly` opens the database read-only, accepts one SELECT/WITH statement,
denies writes, ATTACH, PRAGMA and extensions through an authorizer, and stops runaway queries.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Collection
from pathlib import Path

# --- the sandbox ---------------------------------------------------------------------------


class SQLSafetyError(ValueError):
    """The sandbox refused a query (not a single SELECT, a write, ATTACH, PRAGMA, an extension, too many rows)."""


class SQLTimeoutError(TimeoutError):
    """A query ran longer than the sandbox's time limit and was stopped."""


# Authorizer action codes the sandbox allows; everything else (writes, ATTACH, PRAGMA, transactions...) is denied.
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
# Names of the authorizer's action codes, for messages (other sqlite3 constants reuse the same small numbers).
_AUTHORIZER_ACTIONS = (
    "CREATE_INDEX CREATE_TABLE CREATE_TEMP_INDEX CREATE_TEMP_TABLE CREATE_TEMP_TRIGGER CREATE_TEMP_VIEW "
    "CREATE_TRIGGER CREATE_VIEW DELETE DROP_INDEX DROP_TABLE DROP_TEMP_INDEX DROP_TEMP_TABLE DROP_TEMP_TRIGGER "
    "DROP_TEMP_VIEW DROP_TRIGGER DROP_VIEW INSERT PRAGMA READ SELECT TRANSACTION UPDATE ATTACH DETACH ALTER_TABLE "
    "REINDEX ANALYZE CREATE_VTABLE DROP_VTABLE FUNCTION SAVEPOINT RECURSIVE"
).split()
_ACTION_NAMES = {
    getattr(sqlite3, f"SQLITE_{name}"): name for name in _AUTHORIZER_ACTIONS if hasattr(sqlite3, f"SQLITE_{name}")
}
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def _first_keyword(sql: str) -> str:
    words = _COMMENTS.sub(" ", sql).split()
    return re.sub(r"[^a-z]", "", words[0].lower()) if words else ""


def execute_readonly(
    db_path: str | Path,
    sql: str,
    timeout_s: float = 2.0,
    max_rows: int = 1000,
    allowed_tables: Collection[str] | None = None,
) -> list[tuple]:
    """Run one SELECT/WITH query on a read-only connection and return its rows; the file is never modified.

    With `allowed_tables`, reading any other table (sqlite_master included) is refused too: least privilege.
    Refusals raise `SQLSafetyError` (a ValueError) saying why; a query past `timeout_s` raises `SQLTimeoutError`.
    """
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"no database at {str(path)!r}; create one first with make_database(path)")
    if not isinstance(sql, str) or not sql.strip():
        raise SQLSafetyError("the query is empty; write one SELECT statement")
    keyword = _first_keyword(sql)
    if keyword not in ("select", "with"):
        raise SQLSafetyError(f"only a single SELECT or WITH query is allowed, not a statement starting {keyword!r}")
    denied: list[str] = []

    def authorizer(action: int, arg1, arg2, db_name, trigger) -> int:
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
            denied.append(f"the function {arg2}()")
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_READ and allowed_tables is not None and arg1 not in allowed_tables:
            denied.append(f"reading table {arg1}, which is not in the allow-list {sorted(allowed_tables)}")
            return sqlite3.SQLITE_DENY
        if action in _ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        name = _ACTION_NAMES.get(action, f"action {action}") + (f" {arg1}" if arg1 else "")
        denied.append(f"{name}: the database is read-only")
        return sqlite3.SQLITE_DENY

    deadline = time.monotonic() + timeout_s
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout_s)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 10_000_000)  # no giant strings or blobs
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(authorizer)
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        try:
            cursor = conn.execute(sql)
            rows = cursor.fetchmany(max_rows + 1)
        except (sqlite3.Warning, sqlite3.ProgrammingError) as error:
            raise SQLSafetyError(f"only a single SQL statement is allowed ({error})") from error
        except sqlite3.DatabaseError as error:
            if denied:
                raise SQLSafetyError(f"the sandbox refused {denied[0]}") from error
            if time.monotonic() > deadline and "interrupt" in str(error).lower():
                raise SQLTimeoutError(f"the query ran longer than {timeout_s} s and was stopped") from error
            raise
        if len(rows) > max_rows:
            raise SQLSafetyError(f"the query returned more than {max_rows} rows; add a WHERE or a LIMIT")
        return rows
    finally:
        conn.close()
