"""Every exercise check goes through `exercises.attempt`: a learner's code that raises, or an answer that is not a
number, gets a verdict naming the problem, never a traceback."""

import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config

from llm_workshop import (
    attention,
    decoding,
    distributed,
    dpo,
    estimate,
    exercises,
    metrics,
    objectives,
    ppo,
    quant,
    sql,
    text,
    training,
)


def broken(*args, **kwargs):
    raise ZeroDivisionError("division by zero")


def test_attempt_returns_the_result_or_a_hint():
    assert exercises.attempt(divmod, 7, 2) == ((3, 1), "")
    assert exercises.attempt(broken, 1) == (None, "your code raised ZeroDivisionError: division by zero")


@pytest.mark.parametrize(
    "check",
    [
        attention.check_causal_mask,
        decoding.check_top_k_filter,
        distributed.check_allreduce_mean,
        distributed.check_zero_gb_per_gpu,
        decoding.check_top_p_filter,
        metrics.check_brevity_penalty,
        dpo.check_dpo_loss,
        training.check_completion_labels,
        metrics.check_rouge_l_recall,
        text.check_tf_idf_one,
        text.check_skipgram_pairs,
        text.check_cosine,
        objectives.check_span_corruption,
    ],
)
def test_a_learner_function_that_raises_gets_a_hint(check, capsys):
    assert check(broken) is False
    assert "Not yet" in (out := capsys.readouterr().out) and "ZeroDivisionError" in out


def test_greedy_check_survives_a_raising_function(capsys):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(GPT2Config(vocab_size=50, n_positions=32, n_embd=16, n_layer=1, n_head=2))
    assert decoding.check_greedy_generate(broken, model.eval(), torch.tensor([[1, 2, 3]]), max_new_tokens=2) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_answers_that_are_not_numbers_get_a_hint(tmp_path, capsys):
    db = tmp_path / "shop.db"
    sql.make_database(db)
    assert estimate.check_training_memory("a lot") is False
    assert quant.check_weight_memory(None, n_params=7e9, bits=4) is False
    assert ppo.check_kl_penalised_reward({"not": "numbers"}) is False
    assert sql.check_sql_exercise(None, db) is False
    assert capsys.readouterr().out.count("Not yet") == 4
