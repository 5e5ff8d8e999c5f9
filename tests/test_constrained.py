"""Constrained decoding: the regex from a schema accepts exactly the valid JSON, and a random tiny model constrained
by our logits processor always produces text that parses and validates."""

import json

import pytest
import regex
import torch
from transformers import LogitsProcessorList

from llm_workshop.concepts import constrained, tools

VERDICT = {"type": "object", "properties": {"answer": {"enum": ["A", "B", "tie"]}}, "required": ["answer"]}
PERSON = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"},
          "height": {"type": "number"}, "alive": {"type": "boolean"}}}  # fmt: skip


def test_schema_regex_accepts_json_dumps_of_valid_values_only():
    verdict = regex.compile(constrained.schema_regex(VERDICT))
    for choice in ["A", "B", "tie"]:
        assert verdict.fullmatch(json.dumps({"answer": choice}))
    for bad in ['{"answer": "C"}', '{"answer":"A"}', '{"answer": "A"} ', '{"verdict": "A"}']:
        assert not verdict.fullmatch(bad), bad
    person = regex.compile(constrained.schema_regex(PERSON))
    assert person.fullmatch(json.dumps({"name": "Irene Adler", "age": 29, "height": 1.68, "alive": True}))
    assert not person.fullmatch(json.dumps({"name": "x" * 21, "age": 29, "height": 1.68, "alive": True}))
    assert not person.fullmatch(json.dumps({"name": "Irene", "age": 29.5, "height": 1.68, "alive": True}))
    with pytest.raises(ValueError, match="unsupported schema"):
        constrained.schema_regex({"type": "array"})


def generate(model, tokenizer, pattern, prompt, keep=4, max_new_tokens=40):
    ids = tokenizer(prompt, return_tensors="pt")
    n = ids["input_ids"].shape[1]
    processor = constrained.RegexLogitsProcessor(pattern, tokenizer, n, keep=keep)
    out = model.generate(
        **ids, max_new_tokens=max_new_tokens, do_sample=False, logits_processor=LogitsProcessorList([processor])
    )
    return tokenizer.decode(out[0, n:], skip_special_tokens=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_constrained_verdict_parses(qwen_tokenizer, loud_qwen, seed):
    model = loud_qwen(qwen_tokenizer, seed)
    text = generate(model, qwen_tokenizer, constrained.schema_regex(VERDICT), "Which answer is better, A or B?")
    assert json.loads(text)["answer"] in {"A", "B", "tie"}, text
    free = model.generate(
        **qwen_tokenizer("Which answer is better, A or B?", return_tensors="pt"), max_new_tokens=8, do_sample=False
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(qwen_tokenizer.decode(free[0, -8:], skip_special_tokens=True))


def test_constrained_tool_call_parses_and_validates(qwen_tokenizer, loud_qwen):
    registry = tools.Registry([tools.calculator_tool()])
    specs = registry.specs()
    pattern = constrained.tool_call_regex(specs, max_string=12)
    model = loud_qwen(qwen_tokenizer, 3)
    text = generate(model, qwen_tokenizer, pattern, "Compute 6 * 7.", max_new_tokens=60)
    (call,) = tools.parse_tool_calls(text)
    registry.check(call)  # the name is on the allow-list and the arguments pass the schema


def test_greedy_tokens_do_not_depend_on_keep(qwen_tokenizer, loud_qwen):
    model = loud_qwen(qwen_tokenizer, 4)
    pattern = constrained.schema_regex(PERSON, max_string=12)
    assert generate(model, qwen_tokenizer, pattern, "A person:", keep=1) == generate(
        model, qwen_tokenizer, pattern, "A person:", keep=8
    )
    with pytest.raises(ValueError, match="keep must be at least 1"):
        constrained.RegexLogitsProcessor(pattern, qwen_tokenizer, 0, keep=0)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", ["verdict", "tool call"])
def test_same_greedy_output_as_outlines(qwen_tokenizer, loud_qwen, seed, kind):
    """outlines is a test requirement (requirements-dev.txt), not a notebook's: skipped where it is missing (Colab)."""
    outlines = pytest.importorskip("outlines")
    specs = tools.Registry([tools.calculator_tool()]).specs()
    pattern = (
        constrained.schema_regex(VERDICT, 12) if kind == "verdict" else constrained.tool_call_regex(specs, False, 12)
    )
    model = loud_qwen(qwen_tokenizer, seed)
    prompt = "Answer in JSON."
    messages = [{"role": "user", "content": prompt}]
    chat = qwen_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ours = generate(model, qwen_tokenizer, pattern, chat, keep=1, max_new_tokens=60)
    generator = outlines.Generator(outlines.from_transformers(model, qwen_tokenizer), outlines.types.Regex(pattern))
    theirs = generator(prompt, max_new_tokens=60, do_sample=False)  # outlines 1.3 applies the chat template itself
    assert ours == theirs, f"ours {ours!r} vs outlines {theirs!r}"
    json.loads(ours)


def test_small_integer_ranges_are_enforced_and_optional_properties_may_be_left_out():
    schema = {"type": "object", "properties": {"query": {"type": "string", "minLength": 1},
              "k": {"type": "integer", "minimum": 1, "maximum": 10}}, "required": ["query"]}  # fmt: skip
    pattern = regex.compile(constrained.schema_regex(schema))
    for value, ok in [({"query": "a"}, True), ({"query": "a", "k": 10}, True), ({"query": "a", "k": 11}, False),
                      ({"query": "a", "k": 0}, False), ({"query": "", "k": 3}, False)]:  # fmt: skip
        assert bool(pattern.fullmatch(json.dumps(value))) == ok, value


def test_a_padded_output_layer_never_yields_ids_past_the_vocabulary(qwen_tokenizer, loud_qwen):
    model = loud_qwen(qwen_tokenizer, 5, padding=271)  # Qwen2.5's 151,936 outputs for 151,665 tokens
    with torch.no_grad():
        model.lm_head.weight[len(qwen_tokenizer) :] = 50.0  # the padded ids score best of all
    text = generate(model, qwen_tokenizer, constrained.schema_regex(VERDICT), "Which answer is better, A or B?", keep=1)
    assert json.loads(text)["answer"] in {"A", "B", "tie"}, text
