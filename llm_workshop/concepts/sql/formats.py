"""Text-to-SQL prompts in each model family's format (Llama 2, Llama 3, ChatML, Alpaca), and the SQL read back out
of a model's answer.
"""

from __future__ import annotations

import re

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
