"""A ReAct-style agent loop written out: the model replies; a reply with tool calls is acted on and the results go
back as `tool` messages; a reply without one is the answer. Budgets and stopping rules end every run cleanly.

The loop is model-agnostic: `generate(messages) -> str` may wrap Qwen2.5 with its chat template and `tools=`, the
smoke chat model, or a scripted fake in a test. Tool results are data, never instructions: `redirect_guard` withholds a
result that tries to steer the agent (an indirect prompt injection), and the loop says so in the trace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessorList

from llm_workshop.concepts.constrained import RegexLogitsProcessor, reply_regex
from llm_workshop.concepts.grounding import instruction_in
from llm_workshop.concepts.tools import Registry, ToolCall, ToolError, parse_tool_calls

Messages = list[dict]
WITHHELD = "[tool result withheld: it contained instructions, which tools may not give]"


@dataclass(frozen=True)
class Step:
    """One row of a trace: the model's reply, the call it made (if any), what came back, and whether the call was valid."""

    step: int
    reply: str
    tool: str | None
    arguments: dict | None
    observation: str
    valid: bool
    seconds: float


@dataclass
class Outcome:
    """How a run ended: the answer (None if it never came), why it stopped, one sentence, and the trace."""

    answer: str | None
    stopped: str  # "answer", "step budget", "time budget" or "repeated call"
    message: str
    trace: list[Step] = field(default_factory=list)

    @property
    def calls(self) -> list[Step]:
        """The trace rows that attempted a tool call (valid or not)."""
        return [s for s in self.trace if s.tool is not None or not s.valid]


def redirect_guard(result: str) -> str | None:
    """A sentence if a tool result contains instructions aimed at the agent (a likely injection), else None."""
    found = instruction_in(result)
    return f"the tool result contains an instruction ({found!r}) and was withheld" if found else None


def run_agent(
    generate: Callable[[Messages], str],
    messages: Messages,
    registry: Registry,
    max_steps: int = 5,
    max_seconds: float = 60.0,
    guard: Callable[[str], str | None] | None = redirect_guard,
    clock: Callable[[], float] = time.monotonic,
    parse: Callable[[str], list[ToolCall]] = parse_tool_calls,
) -> Outcome:
    """Run the loop from `messages` (system and user turns) until an answer, a budget, or a repeated call stops it.

    The time budget is checked before each step (a reply being generated is not interrupted). `parse` reads the
    calls out of a reply (a malformed one raises a ToolError), so a parser of your own can be plugged in.
    """
    if max_steps < 1 or max_seconds <= 0:
        raise ValueError(f"need max_steps >= 1 and max_seconds > 0, got {max_steps=}, {max_seconds=}")
    messages, trace, start, last_calls = list(messages), [], clock(), None
    for step in range(1, max_steps + 1):
        if clock() - start > max_seconds:
            return Outcome(
                None, "time budget", f"stopped after {max_seconds:g} s without an answer ({step - 1} steps).", trace
            )
        began = clock()
        reply = generate(messages)
        messages.append({"role": "assistant", "content": reply})
        try:
            calls = parse(reply)
        except ToolError as error:
            trace.append(Step(step, reply, None, None, str(error), False, clock() - began))
            messages.append({"role": "tool", "content": f"Error: {error}"})
            continue
        if not calls:
            trace.append(Step(step, reply, None, None, "", True, clock() - began))
            return Outcome(reply.strip(), "answer", f"answered in {step} step{'s' * (step > 1)}.", trace)
        if calls == last_calls:
            trace.append(Step(step, reply, calls[0].name, calls[0].arguments, "", True, clock() - began))
            return Outcome(None, "repeated call", f"stopped at step {step}: the model repeated its last call.", trace)
        last_calls = calls
        for call in calls:
            observation, valid = _act(registry, call, guard)
            trace.append(Step(step, reply, call.name, call.arguments, observation, valid, clock() - began))
            messages.append({"role": "tool", "content": observation})
    return Outcome(None, "step budget", f"stopped after {max_steps} steps without an answer; raise max_steps or simplify the task.", trace)  # fmt: skip


def _act(registry: Registry, call: ToolCall, guard: Callable[[str], str | None] | None) -> tuple[str, bool]:
    """(observation, whether the call was valid): valid means on the allow-list with arguments its schema accepts; a
    valid call whose tool then fails (1 / 0, a refused query) returns the tool's error sentence."""
    try:
        registry.check(call)
    except ToolError as error:
        return f"Error: {error}", False
    try:
        result = registry.run(call)
    except ToolError as error:
        return f"Error: {error}", True
    if guard is not None and guard(result):
        return WITHHELD, True
    return result, True


def summary(outcomes: Sequence[Outcome], solved: Sequence[bool]) -> str:
    """The line 2.7 prints: tasks solved, the share of valid tool calls, and the mean number of steps per task."""
    if not outcomes or len(outcomes) != len(solved):
        raise ValueError(f"need one solved flag per outcome and at least one, got {len(outcomes)} and {len(solved)}")
    calls = [s for o in outcomes for s in o.calls]
    valid = f"{sum(s.valid for s in calls) / len(calls):.2f} valid tool calls" if calls else "no tool calls"
    steps = sum(max((s.step for s in o.trace), default=0) for o in outcomes) / len(outcomes)
    return f"agent: {sum(solved)}/{len(outcomes)} tasks solved, {valid}, mean steps {steps:.1f}"


def chat_generator(
    model, tokenizer, specs: list[dict], constrained: bool = False, max_new_tokens: int = 96, max_string: int = 120
) -> Callable[[Messages], str]:
    """`generate(messages)` for the loop: the chat template with `tools=specs`, greedy decoding, and with
    `constrained` a logits processor that lets a reply be free text or one valid tool call (`reply_regex`) whose
    strings stop at `max_string` characters, so that a call closes within the token budget."""
    pattern = reply_regex(specs, max_string=max_string)
    processor = RegexLogitsProcessor(pattern, tokenizer, 0, keep=1) if constrained else None

    def generate(messages: Messages) -> str:
        prompt = tokenizer.apply_chat_template(
            messages, tools=specs, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        length = prompt["input_ids"].shape[1]
        processors = LogitsProcessorList([processor] if processor else [])
        if processor:
            processor.prompt_length = length
        with torch.no_grad():
            out = model.generate(**prompt, max_new_tokens=max_new_tokens, do_sample=False, logits_processor=processors,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)  # fmt: skip
        return tokenizer.decode(out[0, length:], skip_special_tokens=True)

    return generate
