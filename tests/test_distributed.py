import pytest
import torch

from llm_workshop.concepts import distributed
from llm_workshop.exercises import m3_5


def test_allreduce_mean_is_the_mean_per_name():
    ranks = [{"w": torch.tensor([1.0, 3.0])}, {"w": torch.tensor([3.0, 5.0])}]
    assert torch.equal(distributed.allreduce_mean(ranks)["w"], torch.tensor([2.0, 4.0]))


def test_allreduce_mean_bad_input():
    with pytest.raises(ValueError, match="at least one rank"):
        distributed.allreduce_mean([])
    with pytest.raises(ValueError, match="same parameter names"):
        distributed.allreduce_mean([{"a": torch.zeros(1)}, {"b": torch.zeros(1)}])


def test_check_accepts_right_and_rejects_wrong(capsys):
    assert m3_5.check_allreduce_mean(distributed.allreduce_mean)
    assert not m3_5.check_allreduce_mean(lambda ranks: ranks[0])
    assert not m3_5.check_allreduce_mean(lambda ranks: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_zero_check_accepts_the_table_and_rejects_a_stage_off_by_one(capsys):
    def zero(n_params, stage, n_gpus):  # the ZeRO paper's table, written out
        weights, gradients, optimizer = 2.0, 2.0, 12.0
        shards = [n_gpus if stage >= s else 1 for s in (3, 2, 1)]
        return n_params * (weights / shards[0] + gradients / shards[1] + optimizer / shards[2]) / 1e9

    assert m3_5.check_zero_gb_per_gpu(zero)
    assert not m3_5.check_zero_gb_per_gpu(lambda n, stage, g: zero(n, min(stage + 1, 3), g))
    assert "stage 0" in capsys.readouterr().out
    assert not m3_5.check_zero_gb_per_gpu(lambda n, stage, g: 16 * n / 1e9)  # no sharding at all
    assert not m3_5.check_zero_gb_per_gpu(lambda n, stage, g: "120 GB")
