"""A multiple-choice task about the stories, scored by EleutherAI's lm-evaluation-harness and by our own scorer.

The questions are generated from the corpus with answers anyone can check: each asks which story mentions a
word that appears at least `min_count` times in one story and in no other. `write_lm_eval_task` writes the task
as the harness wants it (a YAML config and a JSON-lines data file, both local); `item_logprobs` scores the
same (context, continuation) pairs with `completion_logprobs`, so the two accuracies can be compared.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from llm_workshop.concepts.logprobs import completion_logprobs
from llm_workshop.course.data import STORY_TITLES, stories

TASK_NAME = "sherlock_mc"
PROMPT = "Question: {question}\nAnswer:"  # the harness' doc_to_text, written in Jinja in the YAML below
TARGET_DELIMITER = " "  # the harness puts this between the prompt and each choice
YAML_TEMPLATE = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data_file}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: choices
doc_to_target: label
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def story_words(per_story: int = 3, min_count: int = 4) -> dict[str, list[str]]:
    """Per story title, its `per_story` most frequent capitalised words that no other story uses and no title holds.

    A word qualifies if it occurs at least `min_count` times in its story, never in another, and never in lower
    case anywhere (so it is a name such as "Roylott", not a sentence-initial common word).
    """
    texts = [text for _, text in stories()]
    counts = [Counter(re.findall(r"\b[A-Z][a-z]{3,}\b", text)) for text in texts]
    lower = set(re.findall(r"\b[a-z]{4,}\b", " ".join(texts)))
    in_titles = {w.lower() for title in STORY_TITLES for w in re.findall(r"[A-Za-z]+", title)}
    result = {}
    for i, title in enumerate(STORY_TITLES):
        words = [
            w
            for w, n in counts[i].most_common()
            if n >= min_count
            and w.lower() not in lower
            and w.lower() not in in_titles
            and all(other[w] == 0 for j, other in enumerate(counts) if j != i)
        ]
        if len(words) < per_story:
            raise ValueError(f"{title!r} has only {len(words)} words used in no other story; lower per_story")
        result[title] = words[:per_story]
    return result


def story_questions(per_story: int = 3, n_choices: int = 4, seed: int = 0) -> list[dict]:
    """Multiple-choice items {question, choices, label, kind}: which story mentions a word, which word a story mentions.

    Every distractor is a story (or a word of a story) where the asked-about word never occurs, so each item has
    exactly one right answer that a search of the text confirms.
    """
    if not 2 <= n_choices <= len(STORY_TITLES):
        raise ValueError(f"n_choices must be between 2 and {len(STORY_TITLES)}, got {n_choices}")
    words = story_words(per_story)
    rng = random.Random(seed)
    items = []
    for title, own in words.items():
        others = [t for t in STORY_TITLES if t != title]
        for word in own:
            choices = [title, *rng.sample(others, n_choices - 1)]
            rng.shuffle(choices)
            question = f'Which story of The Adventures of Sherlock Holmes mentions "{word}"?'
            items.append({"question": question, "choices": choices, "label": choices.index(title), "kind": "story"})
        for word in own:
            decoys = [rng.choice(words[t]) for t in rng.sample(others, n_choices - 1)]
            choices = [word, *decoys]
            rng.shuffle(choices)
            question = f'Which of these words appears in the Sherlock Holmes story "{title}"?'
            items.append({"question": question, "choices": choices, "label": choices.index(word), "kind": "word"})
    return items


def write_lm_eval_task(items: Sequence[dict], directory: str | Path, name: str = TASK_NAME) -> Path:
    """Write `name`.jsonl (one item a line) and `name`.yaml (the task config) into `directory`; return the YAML path.

    The YAML points at the data file by its absolute path, so the harness finds it from any working directory.
    """
    if not items:
        raise ValueError("no items to write; pass at least one {question, choices, label} item")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data_file = (directory / f"{name}.jsonl").resolve()
    with data_file.open("w", encoding="utf-8") as f:
        for item in items:
            missing = {"question", "choices", "label"} - set(item)
            if missing:
                raise KeyError(f"an item lacks {sorted(missing)}; each needs question, choices and label")
            f.write(json.dumps({k: item[k] for k in ("question", "choices", "label")}, ensure_ascii=False) + "\n")
    yaml_path = directory / f"{name}.yaml"
    yaml_path.write_text(YAML_TEMPLATE.format(name=name, data_file=json.dumps(str(data_file))), encoding="utf-8")
    return yaml_path


def requests(items: Sequence[dict]) -> list[tuple[str, str]]:
    """The (context, continuation) pair for every choice of every item, in order: what the harness scores."""
    return [
        (PROMPT.format(question=item["question"]), TARGET_DELIMITER + choice)
        for item in items
        for choice in item["choices"]
    ]


def item_logprobs(model, tokenizer, items: Sequence[dict], batch_size: int = 32) -> list[list[float]]:
    """log p(choice | prompt) for every choice of every item, from the course scorer `completion_logprobs`."""
    pairs = requests(items)
    flat = completion_logprobs(model, tokenizer, [c for c, _ in pairs], [x for _, x in pairs], batch_size).tolist()
    out, start = [], 0
    for item in items:
        out.append(flat[start : start + len(item["choices"])])
        start += len(item["choices"])
    return out


def accuracy(items: Sequence[dict], logprobs: Sequence[Sequence[float]], normalize: bool = False) -> float:
    """Share of items whose highest-scoring choice is the label; `normalize` divides by the choice's length in
    characters first (the harness' acc_norm), so long answers are not punished for having more tokens."""
    if len(items) != len(logprobs) or not items:
        raise ValueError(f"got {len(items)} items and {len(logprobs)} score lists; pass one non-empty list per item")
    right = 0
    for item, scores in zip(items, logprobs):
        scores = np.asarray(scores, dtype=float)
        if normalize:
            scores = scores / np.array([len(choice) for choice in item["choices"]], dtype=float)
        right += int(np.argmax(scores) == item["label"])
    return right / len(items)


def harness_logprobs(samples: Sequence[dict]) -> list[list[float]]:
    """Per-choice log-likelihoods from the harness' logged samples (`log_samples=True`), in document order."""
    ordered = sorted(samples, key=lambda s: s["doc_id"])
    return [[float(resp[0]) for resp in sample["filtered_resps"]] for sample in ordered]
