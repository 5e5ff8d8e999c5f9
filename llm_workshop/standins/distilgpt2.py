"""The smoke `distilgpt2`, the speculative-decoding draft: a GPT-2 (1 layer, 64 wide, ~0.2M parameters) distilled from
the smoke target on the same news text."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm_workshop.concepts.distill import train_student
from llm_workshop.course.data import news_text
from llm_workshop.standins.gpt2 import config


def build(out: Path, teacher_dir: Path) -> None:
    """Distil the model saved in `teacher_dir` into a 1-layer student for 300 steps and save it into `out`."""
    torch.manual_seed(0)
    teacher = AutoModelForCausalLM.from_pretrained(teacher_dir)
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    student = AutoModelForCausalLM.from_config(config(tokenizer, n_layer=1, n_embd=64, n_head=2))
    train_student(student, tokenizer, news_text(), steps=300, teacher=teacher, temperature=2.0)
    student.save_pretrained(out)
    tokenizer.save_pretrained(out)
