"""Every exercise check goes through `verdict.attempt`: a learner's code that raises, or an answer that is not a
number, gets a verdict naming the problem, never a traceback."""

import pytest
import torch

from llm_workshop.concepts.sql import shop
from llm_workshop.course import verdict
from llm_workshop.exercises import m1_1, m1_2, m1_3, m2_1, m2_2, m2_3, m2_6, m3_1, m3_2, m3_3, m3_4, m3_5


def broken(*args, **kwargs):
    raise ZeroDivisionError("division by zero")


def test_attempt_returns_the_result_or_a_hint():
    assert verdict.attempt(divmod, 7, 2) == ((3, 1), "")
    assert verdict.attempt(broken, 1) == (None, "your code raised ZeroDivisionError: division by zero")


@pytest.mark.parametrize(
    "check",
    [
        m1_3.check_causal_mask,
        m2_2.check_top_k_filter,
        m3_5.check_allreduce_mean,
        m3_5.check_zero_gb_per_gpu,
        m2_2.check_top_p_filter,
        m2_3.check_brevity_penalty,
        m3_4.check_dpo_loss,
        m3_4.check_kl_penalised_rewards,
        m3_3.check_completion_labels,
        m3_2.check_anchor_penalty,
        m3_1.check_compute_optimal,
        m2_3.check_rouge_l_recall,
        m1_1.check_tf_idf_one,
        m1_2.check_skipgram_pairs,
        m1_1.check_cosine,
        m1_3.check_span_corruption,
        m2_6.check_bm25_term,
        m2_6.check_rrf,
    ],
)
def test_a_learner_function_that_raises_gets_a_hint(check, capsys):
    assert check(broken) is False
    assert "Not yet" in (out := capsys.readouterr().out) and "ZeroDivisionError" in out


def test_greedy_check_survives_a_raising_function(capsys, tiny_gpt2):
    model = tiny_gpt2(vocab_size=50, n_layer=1, n_embd=16)
    assert m2_1.check_greedy_generate(broken, model, torch.tensor([[1, 2, 3]]), max_new_tokens=2) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_answers_that_are_not_numbers_get_a_hint(tmp_path, capsys):
    db = tmp_path / "shop.db"
    shop.make_database(db)
    assert m3_1.check_training_memory("a lot") is False
    assert m3_2.check_weight_memory(None, n_params=7e9, bits=4) is False
    assert m3_3.check_sql_exercise(None, db) is False
    assert capsys.readouterr().out.count("Not yet") == 3


@pytest.mark.parametrize(
    "check",
    [
        m2_1.check_early_stopping,
        m2_2.check_top_k_filter,
        m2_2.check_top_p_filter,
        m2_3.check_brevity_penalty,
        m2_3.check_rouge_l_recall,
    ],
)
def test_a_second_wrong_try_gets_a_sharper_hint(check, capsys):
    check(broken)
    capsys.readouterr()
    check(broken)
    assert "Hint:" in capsys.readouterr().out


def test_greedy_check_gives_a_sharper_hint_on_a_second_wrong_try(capsys, tiny_gpt2):
    model = tiny_gpt2(vocab_size=50, n_layer=1, n_embd=16)
    for _ in range(2):
        assert m2_1.check_greedy_generate(lambda model, ids, n: ids, model, torch.tensor([[1, 2, 3]])) is False
    assert "Hint:" in capsys.readouterr().out.splitlines()[-1]
