import pytest
import torch

from llm_workshop import distributed


def test_allreduce_mean_is_the_mean_per_name():
    ranks = [{"w": torch.tensor([1.0, 3.0])}, {"w": torch.tensor([3.0, 5.0])}]
    assert torch.equal(distributed.allreduce_mean(ranks)["w"], torch.tensor([2.0, 4.0]))


def test_allreduce_mean_bad_input():
    with pytest.raises(ValueError, match="at least one rank"):
        distributed.allreduce_mean([])
    with pytest.raises(ValueError, match="same parameter names"):
        distributed.allreduce_mean([{"a": torch.zeros(1)}, {"b": torch.zeros(1)}])


def test_check_accepts_right_and_rejects_wrong(capsys):
    assert distributed.check_allreduce_mean(distributed.allreduce_mean)
    assert not distributed.check_allreduce_mean(lambda ranks: ranks[0])
    assert not distributed.check_allreduce_mean(lambda ranks: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
