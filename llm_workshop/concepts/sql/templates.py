"""Text-to-SQL examples: (schema, question, SQL) made from templates over the shop, and the Hub data set's rows in
the same shape. Test examples use phrasings and values no training example uses.
"""

from __future__ import annotations

import random

from llm_workshop.concepts.sql.shop import CATEGORIES, CITIES, SCHEMA_BRIEF

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
