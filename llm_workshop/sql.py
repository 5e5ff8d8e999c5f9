"""Text-to-SQL: a small generated SQLite shop, template-made (schema, question, SQL) examples, a read-only sandbox.

A model's SQL is scored by running it: `execute_readonly` opens the database read-only, accepts one
SELECT/WITH statement, denies writes, ATTACH, PRAGMA and extensions through an authorizer and stops
runaway queries with a progress handler. `execution_accuracy` compares result rows with the gold query's.
"""

from __future__ import annotations

import math
import random
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Collection
from pathlib import Path

from llm_workshop.exercises import attempt, verdict

# --- the database --------------------------------------------------------------------------

SCHEMA = {
    "customers": "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, age INTEGER)",
    "products": "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT, price REAL)",
    "orders": "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, product_id INTEGER, quantity INTEGER)",
}
# The schema as prompts show it: table(columns), a few tokens instead of a CREATE TABLE statement.
SCHEMA_BRIEF = {
    "customers": "customers(id, name, city, age)",
    "products": "products(id, name, category, price)",
    "orders": "orders(id, customer_id, product_id, quantity)",
}
# Values are split so that the test questions ask about cities and categories no training question mentions.
# Many training values, so that a model learns to copy the value from the question rather than memorise a few.
CITIES = {
    "train": ["Paris", "London", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Warsaw", "Athens", "Brussels",
              "Zurich", "Munich", "Milan", "Lyon", "Porto", "Geneva", "Hamburg", "Naples", "Seville", "Krakow",
              "Budapest", "Sofia", "Helsinki", "Stockholm", "Copenhagen", "Amsterdam", "Antwerp", "Marseille",
              "Turin", "Valencia", "Bilbao", "Riga", "Tallinn", "Vilnius", "Zagreb", "Belgrade", "Bern", "Basel",
              "Bordeaux", "Bremen"],
    "test": ["Oslo", "Dublin", "Lisbon"],
}  # fmt: skip
CATEGORIES = {
    "train": ["books", "games", "tools", "toys", "shoes", "lamps", "bags", "maps", "pens", "socks", "hats", "cups",
              "rugs", "clocks", "kites", "soaps", "paints", "boots", "mugs", "plates"],
    "test": ["music", "garden"],
}  # fmt: skip
FIRST_NAMES = ["Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivo", "Jan", "Kim", "Lea", "Max", "Nora"]
LAST_NAMES = ["Moss", "Reed", "Hart", "Lane", "Cole", "Ford", "Wade", "Shaw", "Bell", "Ross"]
PRODUCT_WORDS = ["Red", "Blue", "Tiny", "Big", "Smart", "Old", "Fast", "Quiet", "Bright", "Soft"]
N_CUSTOMERS, N_PRODUCTS, N_ORDERS = 120, 80, 900


def make_database(path: str | Path, seed: int = 0) -> str:
    """Create (or replace) a small shop database at `path` with customers, products and orders; return its schema.

    Every city and category occurs, prices are distinct, so every generated question has a non-empty, unique answer.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    rng = random.Random(seed)
    cities = CITIES["train"] + CITIES["test"]
    categories = CATEGORIES["train"] + CATEGORIES["test"]
    full_names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    customers = [
        (i + 1, name, cities[i] if i < len(cities) else rng.choice(cities), rng.randint(18, 80))
        for i, name in enumerate(rng.sample(full_names, N_CUSTOMERS))
    ]
    prices = rng.sample(range(300, 50000), N_PRODUCTS)  # distinct prices in cents: ORDER BY price has no ties
    products = []
    for i in range(N_PRODUCTS):
        category = categories[i] if i < len(categories) else rng.choice(categories)
        name = f"{rng.choice(PRODUCT_WORDS)} {category.title()} {i + 1}"
        products.append((i + 1, name, category, prices[i] / 100))
    orders = [
        (i + 1, rng.randint(1, N_CUSTOMERS), rng.randint(1, N_PRODUCTS), rng.randint(1, 5)) for i in range(N_ORDERS)
    ]
    with sqlite3.connect(path) as conn:
        for statement in SCHEMA.values():
            conn.execute(statement)
        conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", customers)
        conn.executemany("INSERT INTO products VALUES (?, ?, ?, ?)", products)
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", orders)
    conn.close()
    return ";\n".join(SCHEMA.values()) + ";"


# --- the examples --------------------------------------------------------------------------

# Each template: the tables it needs, its SQL, and question phrasings for train and test (ten varied training
# phrasings, so that the words around the keywords carry no signal). Test phrasings are unseen
# sentences built from words the training phrasings use, so the model must map a new wording to a known request.
TEMPLATES = [
    {
        "tables": ["customers"],
        "sql": "select name from customers where city = '{city}'",
        "train": [
            "Which customers live in '{city}'?",
            "List the customers from '{city}'.",
            "Names of customers in '{city}'?",
            "Give me the customers based in '{city}'.",
            "Which of our customers are in '{city}'?",
            "Show the customers who live in '{city}'.",
            "Who lives in '{city}'?",
            "Name every customer from '{city}'.",
            "What are the names of the customers in '{city}'?",
            "Who are our customers in '{city}'?",
        ],
        "test": ["Who are the customers living in '{city}'?"],
    },
    {
        "tables": ["customers"],
        "sql": "select count(*) from customers where city = '{city}'",
        "train": [
            "How many customers live in '{city}'?",
            "Count the customers in '{city}'.",
            "Number of customers in '{city}'?",
            "How many of our customers are based in '{city}'?",
            "Count of customers from '{city}'?",
            "What is the count of customers in '{city}'?",
            "Show the number of customers who live in '{city}'.",
            "Give the number of customers in '{city}'.",
            "How many people from '{city}' are customers?",
            "Tell me how many customers we have in '{city}'.",
        ],
        "test": ["What is the number of customers from '{city}'?"],
    },
    {
        "tables": ["customers"],
        "sql": "select name from customers where age > {age}",
        "train": [
            "Which customers are older than {age}?",
            "List the customers over {age}.",
            "Customers aged over {age}?",
            "Names of customers above the age of {age}?",
            "Which of our customers are over {age} years old?",
            "Show the customers older than {age}.",
            "Who is older than {age}?",
            "Give me every customer over the age of {age}.",
            "Name the customers aged more than {age}.",
            "What customers are above {age}?",
        ],
        "test": ["Who are the customers older than {age}?"],
    },
    {
        "tables": ["products"],
        "sql": "select name from products where category = '{category}'",
        "train": [
            "Which products are in the '{category}' category?",
            "List the '{category}' products.",
            "Names of the '{category}' products?",
            "What do we sell in category '{category}'?",
            "Give me the products of the '{category}' category.",
            "Show the '{category}' products.",
            "Name every product in category '{category}'.",
            "What are the products of category '{category}'?",
            "Which items belong to the '{category}' category?",
            "Products in '{category}'?",
        ],
        "test": ["Show the names of the products of category '{category}'."],
    },
    {
        "tables": ["products"],
        "sql": "select name from products where price > {price}",
        "train": [
            "Which products cost more than {price}?",
            "List the products priced above {price}.",
            "Products with a price over {price}?",
            "Names of the products costing over {price}?",
            "What products have a price above {price}?",
            "Show the products that cost over {price}.",
            "Name the products priced over {price}.",
            "Give me every product with a price above {price}.",
            "Which items cost more than {price}?",
            "What costs more than {price}?",
        ],
        "test": ["Name the products whose price is over {price}."],
    },
    {
        "tables": ["products"],
        "sql": "select avg(price) from products where category = '{category}'",
        "train": [
            "What is the average price of '{category}' products?",
            "Average price of the '{category}' products?",
            "Mean price in the '{category}' category?",
            "What does a '{category}' product cost on average?",
            "Give the average price in category '{category}'.",
            "Show the average price of the products of category '{category}'.",
            "On average, how much is a '{category}' product?",
            "What is the mean price of the '{category}' items?",
            "How much do '{category}' products cost on average?",
            "Average cost of a product in '{category}'?",
        ],
        "test": ["On average, what does a product of category '{category}' cost?"],
    },
    {
        "tables": ["products"],
        "sql": "select name from products order by price desc limit {k}",
        "train": [
            "What are the {k} most expensive products?",
            "List the {k} priciest products.",
            "Top {k} products by price?",
            "Give me the {k} products with the highest price.",
            "Which {k} products cost the most?",
            "Show the {k} most expensive products.",
            "Name the {k} products with the top prices.",
            "The {k} priciest items?",
            "What are the top {k} products by price?",
            "Which are the {k} most expensive items?",
        ],
        "test": ["Show the top {k} products by price."],
    },
    {
        "tables": ["customers"],
        "sql": "select city, count(*) from customers group by city",
        "train": [
            "How many customers are there in each city?",
            "Count the customers per city.",
            "Number of customers in each city?",
            "How many customers does each city have?",
            "Customer count by city?",
            "Show the number of customers per city.",
            "Give the customer count of every city.",
            "For each city, how many customers are there?",
            "What is the number of customers in every city?",
            "List every city with its number of customers.",
        ],
        "test": ["For every city, give the number of customers."],
    },
    {
        "tables": ["customers", "orders"],
        "sql": "select sum(quantity) from orders join customers on customer_id = customers.id where city = '{city}'",
        "train": [
            "How many items did customers from '{city}' order?",
            "Total quantity ordered from '{city}'?",
            "Items ordered by customers in '{city}'?",
            "What is the total quantity of the orders from '{city}'?",
            "How many items were ordered in '{city}' in all?",
            "Show the total quantity ordered by customers in '{city}'.",
            "Give the number of items customers from '{city}' ordered.",
            "What quantity did the customers in '{city}' order in total?",
            "Sum of the quantities ordered from '{city}'?",
            "In total, how many items were ordered by customers who live in '{city}'?",
        ],
        "test": ["What quantity in total was ordered by customers living in '{city}'?"],
    },
]  # fmt: skip
SPLITS = ("train", "test")
# Numbers are split too: every fourth threshold is kept for testing (each test number is new, its digits are not).
AGES, PRICES, KS = range(20, 71), range(20, 401, 10), range(2, 10)
NUMBERS = {
    "age": {"train": [a for a in AGES if a % 4 != 3], "test": [a for a in AGES if a % 4 == 3]},
    "price": {"train": [p for p in PRICES if p % 40 != 30], "test": [p for p in PRICES if p % 40 == 30]},
    "k": {"train": [k for k in KS if k % 4 != 3], "test": [k for k in KS if k % 4 == 3]},
}


def make_examples(n: int, seed: int = 0, split: str = "train") -> list[dict]:
    """`n` dicts with `schema`, `question` and `sql` drawn from the templates over the shop database.

    The test split uses question phrasings and values (cities, categories, numbers) that no training example uses,
    so memorising the training set does not pass it. Templates take turns, so every SQL shape appears.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if n < 1:
        raise ValueError(f"n must be a positive number of examples, not {n}")
    rng = random.Random(f"{seed}-{split}")
    examples = []
    for i in range(n):
        template = TEMPLATES[i % len(TEMPLATES)]
        values = {
            "city": rng.choice(CITIES[split]),
            "category": rng.choice(CATEGORIES[split]),
            **{name: rng.choice(choices[split]) for name, choices in NUMBERS.items()},
        }
        examples.append(
            {
                "schema": "\n".join(SCHEMA_BRIEF[table] for table in template["tables"]),
                "question": rng.choice(template[split]).format(**values),
                "sql": template["sql"].format(**values),
            }
        )
    rng.shuffle(examples)
    return examples


SQL_CREATE_CONTEXT_COLUMNS = ("question", "context", "answer")


def from_sql_create_context(row: dict) -> dict:
    """A `b-mc2/sql-create-context` row (question, context = its CREATE TABLE statements, answer = the SQL) as one
    of our examples (schema, question, sql), so both sources share the prompt format."""
    missing = [column for column in SQL_CREATE_CONTEXT_COLUMNS if column not in row]
    if missing:
        raise KeyError(f"a sql-create-context row needs the columns {SQL_CREATE_CONTEXT_COLUMNS}; missing {missing}")
    return {"schema": row["context"], "question": row["question"], "sql": row["answer"]}


def random_queries(n: int, words: list[str], seed: int = 0) -> list[str]:
    """`n` random SELECT queries over the shop's tables with random `words` as string values: SQL for a smoke model
    to read in pre-training, as real models read code. No question is paired with them."""
    if n < 1 or not words:
        raise ValueError(f"need n >= 1 queries and a non-empty list of words for values; got n={n}, {len(words)} words")
    rng = random.Random(seed)
    columns = {table: statement[statement.index("(") + 1 : -1].split(", ") for table, statement in SCHEMA_BRIEF.items()}
    text_columns = {"name", "city", "category"}

    def condition(cols: list[str]) -> str:
        column = rng.choice(cols)
        if column in text_columns:
            return f"{column} = '{rng.choice(words)}'"
        return f"{column} {rng.choice(['=', '>', '<'])} {rng.randint(1, 400)}"

    queries = []
    for _ in range(n):
        source = rng.choice(list(columns))
        cols = columns[source]
        if source == "orders" and rng.random() < 0.4:  # columns both tables have (id) would be ambiguous
            source, cols = "orders join customers on customer_id = customers.id", cols[1:] + ["city", "age"]
        aggregate = f"{rng.choice(['avg', 'sum', 'max', 'min'])}({rng.choice(cols)})"
        select = rng.choice([rng.choice(cols), "count(*)", aggregate, "*", ", ".join(rng.sample(cols, 2))])
        query, r = f"select {select} from {source}", rng.random()
        if r < 0.6:
            query += f" where {condition(cols)}"
        elif r < 0.75:
            column = rng.choice(cols)
            query = f"select {column}, count(*) from {source} group by {column}"
        if rng.random() < 0.2:
            query += f" order by {rng.choice(cols)} {rng.choice(['asc', 'desc'])} limit {rng.randint(1, 10)}"
        queries.append(query)
    return queries


# --- prompt formats ------------------------------------------------------------------------

SYSTEM_PROMPT = "Write one SQLite query that answers the question."
PROMPT_STYLES = ("llama2", "llama3", "chatml", "alpaca")
ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request."
)


def user_message(example: dict) -> str:
    """The user turn of a text-to-SQL example: the schema, then the question."""
    return f"{example['schema']}\nQuestion: {example['question']}"


def to_messages(example: dict, system: str = SYSTEM_PROMPT) -> list[dict]:
    """The example as chat messages (system, user and, when it has `sql`, the assistant's answer)."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user_message(example)}]
    if "sql" in example:
        messages.append({"role": "assistant", "content": example["sql"]})
    return messages


def format_prompt(example: dict, style: str, system: str = SYSTEM_PROMPT, include_answer: bool = False) -> str:
    """The prompt for `example` in a model family's format; with `include_answer`, the SQL and end-of-turn follow.

    Styles: `llama2` ([INST] <<SYS>>), `llama3` (header-id tokens, <|eot_id|>), `chatml` (Qwen, <|im_start|>),
    `alpaca` (### Instruction / Input / Response).
    """
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {style!r}; use one of {', '.join(PROMPT_STYLES)}")
    if include_answer and "sql" not in example:
        raise KeyError("include_answer=True needs an example with an 'sql' field")
    user = user_message(example)
    answer = example.get("sql", "")
    if style == "llama2":
        prompt = f"<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]"
        return prompt + (f" {answer} </s>" if include_answer else "")
    if style == "llama3":
        prompt = (
            f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"
            f"<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
        )
        return prompt + (f"{answer}<|eot_id|>" if include_answer else "")
    if style == "chatml":
        prompt = f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
        return prompt + (f"{answer}<|im_end|>\n" if include_answer else "")
    prompt = f"{ALPACA_PREAMBLE}\n\n### Instruction:\n{system}\n\n### Input:\n{user}\n\n### Response:\n"
    return prompt + (answer if include_answer else "")


# --- reading a model's answer ----------------------------------------------------------------

# A Markdown code fence, as instruct models write it: ```sql ... ``` (the closing fence may be cut off by the
# generation length limit).
_FENCE = re.compile(r"```[ \t]*(?:sql|sqlite)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_sql(answer: str) -> str:
    """The SQL in a model's answer: the contents of its first ```sql fence if it has one, else the whole answer.

    Instruct models (Qwen2.5 among them) usually answer in a Markdown fence; the sandbox would otherwise see
    "```sql" as the first keyword and refuse it, and the score would measure formatting, not SQL.
    """
    if not isinstance(answer, str):
        raise TypeError(f"extract_sql expects the model's answer as a string, got {type(answer).__name__}")
    match = _FENCE.search(answer)
    return (match.group(1) if match else answer).strip()


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


# --- exercise ------------------------------------------------------------------------------

EXERCISE_QUESTION = "What is the total amount spent (price times quantity) by customers from Paris?"
_EXERCISE_GOLD = (
    "SELECT SUM(products.price * orders.quantity) FROM orders "
    "JOIN customers ON orders.customer_id = customers.id JOIN products ON orders.product_id = products.id "
    "WHERE customers.city = 'Paris'"
)


def check_sql_exercise(sql: str, db_path: str | Path) -> bool:
    """Run the learner's query for `EXERCISE_QUESTION` in the sandbox and compare its rows with the gold answer."""
    gold = execute_readonly(db_path, _EXERCISE_GOLD)
    rows, error = attempt(execute_readonly, db_path, sql)
    if error:
        return verdict(False, f"The sandbox refused it or SQLite could not run it: {error}.")
    if len(rows) != len(gold):
        return verdict(False, f"Expected {len(gold)} row(s), got {len(rows)}; one number is the answer.")
    value = rows[0][0] if rows and rows[0] else None
    if isinstance(value, int | float) and math.isclose(value, gold[0][0], rel_tol=1e-6):
        return verdict(True)
    return verdict(False, "The number differs; join orders to customers and products, filter on the city, SUM.")
