"""The text-to-SQL helpers: generated data, prompt formats, the read-only sandbox and execution accuracy."""

import hashlib
import threading

import pytest
from transformers import AutoTokenizer

from llm_workshop import models
from llm_workshop.concepts.sql import formats, sandbox, scoring, shop, templates
from llm_workshop.exercises import m3_3


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("sql") / "shop.db"
    shop.make_database(path)
    return path


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- database and examples -----------------------------------------------------------------


def test_make_database_returns_the_schema_and_is_deterministic(tmp_path):
    schema = shop.make_database(tmp_path / "a.db", seed=3)
    shop.make_database(tmp_path / "b.db", seed=3)
    assert schema.count("CREATE TABLE") == 3 and "customers" in schema and "orders" in schema
    assert digest(tmp_path / "a.db") == digest(tmp_path / "b.db")
    shop.make_database(tmp_path / "a.db", seed=4)  # replaces the file, different rows
    assert sandbox.execute_readonly(tmp_path / "a.db", "SELECT * FROM customers") != sandbox.execute_readonly(
        tmp_path / "b.db", "SELECT * FROM customers"
    )
    assert sandbox.execute_readonly(tmp_path / "b.db", "SELECT COUNT(*) FROM orders") == [(shop.N_ORDERS,)]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_generated_question_has_a_non_empty_answer(tmp_path, seed):
    path = tmp_path / "shop.db"
    shop.make_database(path, seed=seed)
    for split in templates.SPLITS:
        for example in templates.make_examples(60, seed=seed, split=split):
            rows = sandbox.execute_readonly(path, example["sql"])
            assert rows and rows[0][0] is not None, example


def test_test_split_holds_out_phrasings_and_values():
    train = templates.make_examples(400, split="train")
    test = templates.make_examples(100, split="test")
    assert {e["question"] for e in train}.isdisjoint(e["question"] for e in test)
    shared = {e["sql"] for e in train} & {e["sql"] for e in test}
    assert shared == {"select city, count(*) from customers group by city"}  # the one template without values
    for city in shop.CITIES["test"]:
        assert not any(city in e["question"] for e in train)
    assert len({e["sql"].split(" where")[0] for e in test}) >= 8  # every SQL shape is tested
    assert templates.make_examples(20, seed=1) == templates.make_examples(20, seed=1)
    assert templates.make_examples(20, seed=1) != templates.make_examples(20, seed=2)


def test_make_examples_rejects_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        templates.make_examples(5, split="validation")
    with pytest.raises(ValueError, match="positive"):
        templates.make_examples(0)


# --- prompt formats ------------------------------------------------------------------------

EXAMPLE = {"schema": "t(a, b)", "question": "How many rows?", "sql": "select count(*) from t"}


def test_prompt_formats_character_for_character():
    s = formats.SYSTEM_PROMPT
    user = "t(a, b)\nQuestion: How many rows?"
    assert formats.format_prompt(EXAMPLE, "llama2") == f"<s>[INST] <<SYS>>\n{s}\n<</SYS>>\n\n{user} [/INST]"
    assert formats.format_prompt(EXAMPLE, "llama2", include_answer=True).endswith("[/INST] select count(*) from t </s>")
    assert formats.format_prompt(EXAMPLE, "llama3") == (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{s}<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert formats.format_prompt(EXAMPLE, "llama3", include_answer=True).endswith(
        "\n\nselect count(*) from t<|eot_id|>"
    )
    assert formats.format_prompt(EXAMPLE, "chatml") == (
        f"<|im_start|>system\n{s}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert formats.format_prompt(EXAMPLE, "alpaca", system="Write SQL.") == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n"
        f"### Instruction:\nWrite SQL.\n\n### Input:\n{user}\n\n### Response:\n"
    )
    with pytest.raises(ValueError, match="llama2"):
        formats.format_prompt(EXAMPLE, "mistral")


@pytest.mark.slow
def test_chatml_format_matches_the_chat_models_own_template():
    tokenizer = AutoTokenizer.from_pretrained(models.model_path("chat", "smoke"))
    messages = formats.to_messages(EXAMPLE)
    rendered = tokenizer.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert rendered == formats.format_prompt(EXAMPLE, "chatml")
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    assert full == formats.format_prompt(EXAMPLE, "chatml", include_answer=True)


# --- the sandbox ---------------------------------------------------------------------------


def test_select_and_with_queries_run(db):
    assert sandbox.execute_readonly(db, "SELECT COUNT(*) FROM customers") == [(shop.N_CUSTOMERS,)]
    rows = sandbox.execute_readonly(db, "WITH c AS (SELECT city FROM customers) SELECT COUNT(DISTINCT city) FROM c;")
    assert rows == [(len(shop.CITIES["train"]) + len(shop.CITIES["test"]),)]
    assert sandbox.execute_readonly(db, "-- a comment\nselect 1") == [(1,)]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DELETE FROM customers", "single SELECT"),
        ("DROP TABLE orders", "single SELECT"),
        ("UPDATE products SET price = 0", "single SELECT"),
        ("INSERT INTO customers VALUES (999, 'x', 'y', 1)", "single SELECT"),
        ("SELECT 1; DELETE FROM customers", "single SQL statement"),
        ("SELECT 1; SELECT 2", "single SQL statement"),
        ("WITH x AS (SELECT 1) DELETE FROM customers", "refused"),
        ("WITH x AS (SELECT 1) INSERT INTO customers SELECT 999, 'x', 'y', 1", "refused"),
        ("ATTACH DATABASE 'other.db' AS other", "single SELECT"),
        ("SELECT 1; ATTACH DATABASE 'other.db' AS other", "single SQL statement"),
        ("PRAGMA journal_mode = WAL", "single SELECT"),
        ("PRAGMA writable_schema = ON", "single SELECT"),
        ("SELECT * FROM pragma_table_info('customers')", "refused"),
        ("SELECT load_extension('evil')", "load_extension"),
        ("/* hidden */ VACUUM", "single SELECT"),
        ("", "empty"),
    ],
)
def test_refusals_leave_the_file_unchanged(db, query, reason):
    before = digest(db)
    with pytest.raises(sandbox.SQLSafetyError, match=reason) as info:
        sandbox.execute_readonly(db, query)
    assert isinstance(info.value, ValueError)
    assert digest(db) == before
    assert sandbox.execute_readonly(db, "SELECT COUNT(*) FROM customers") == [(shop.N_CUSTOMERS,)]


def test_runaway_recursive_cte_is_stopped(db):
    before = digest(db)
    query = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n"
    errors = []

    def run():
        try:
            sandbox.execute_readonly(db, query, timeout_s=0.5)
        except sandbox.SQLTimeoutError as error:
            errors.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)  # a liveness guard only: without the timeout this query never ends
    assert not worker.is_alive(), "the sandbox did not stop a query that never ends"
    assert len(errors) == 1 and "longer than 0.5 s" in str(errors[0])
    assert digest(db) == before


def test_too_many_rows_and_missing_database(db, tmp_path):
    with pytest.raises(sandbox.SQLSafetyError, match="more than 10 rows"):
        sandbox.execute_readonly(db, "SELECT * FROM orders", max_rows=10)
    with pytest.raises(FileNotFoundError, match="make_database"):
        sandbox.execute_readonly(tmp_path / "missing.db", "SELECT 1")
    assert not (tmp_path / "missing.db").exists()


# --- scoring -------------------------------------------------------------------------------


def test_runs_tells_valid_safe_sql_from_the_rest(db):
    assert scoring.runs(db, "select name from customers where age > 200")  # valid, even with no rows
    assert not scoring.runs(db, "select name from customerz")  # no such table
    assert not scoring.runs(db, "select name from customers where")  # syntax error
    assert not scoring.runs(db, "DELETE FROM customers")  # refused


def test_execution_accuracy(db):
    gold = [
        "SELECT name FROM customers WHERE city = 'Paris'",
        "SELECT name FROM products ORDER BY price DESC LIMIT 3",
        "SELECT COUNT(*) FROM orders",
        "SELECT AVG(price) FROM products",
    ]
    reordered = "SELECT name FROM customers WHERE city = 'Paris' ORDER BY name DESC"  # same rows, other order
    assert scoring.execution_accuracy(gold, gold, db) == 1.0
    assert scoring.execution_accuracy([reordered], gold[:1], db) == 1.0
    ascending = "SELECT name FROM products ORDER BY price ASC LIMIT 3"
    top3_reversed = "SELECT name FROM (SELECT name, price FROM products ORDER BY price DESC LIMIT 3) ORDER BY price"
    assert scoring.execution_accuracy([ascending, top3_reversed], [gold[1], gold[1]], db) == 0.0  # gold orders
    assert scoring.execution_accuracy(["SELECT SUM(price) / COUNT(*) FROM products"], gold[3:], db) == 1.0
    broken = ["SELECT nme FROM customers", "DROP TABLE products", "not sql at all", "SELECT COUNT(*) FROM customers"]
    assert scoring.execution_accuracy(broken, gold, db) == 0.0
    assert scoring.execution_accuracy([gold[0], "oops", gold[2], "oops"], gold, db) == 0.5
    with pytest.raises(ValueError, match="predictions"):
        scoring.execution_accuracy(gold[:2], gold, db)


def test_check_sql_exercise(db, capsys):
    assert not m3_3.check_sql_exercise("SELECT COUNT(*) FROM orders", db)
    assert not m3_3.check_sql_exercise("DELETE FROM orders", db)
    assert "refused" in capsys.readouterr().out
    answer = (
        "SELECT SUM(p.price * o.quantity) FROM orders o JOIN customers c ON o.customer_id = c.id "
        "JOIN products p ON o.product_id = p.id WHERE c.city = 'Paris'"
    )
    assert m3_3.check_sql_exercise(answer, db)
    assert "Correct" in capsys.readouterr().out
