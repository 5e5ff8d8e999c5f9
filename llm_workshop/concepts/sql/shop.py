"""The text-to-SQL lessons' database: a small generated SQLite shop of customers, products and orders.

Values are split into train and test sets (cities, categories), so test questions ask about values no training
question mentions.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

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
