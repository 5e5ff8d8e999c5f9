import math

import pytest
import torch

from llm_workshop.concepts import dpo
from llm_workshop.exercises import m3_4


def test_dpo_loss_is_log2_without_preference_and_falls_as_the_margin_grows():
    zero = torch.zeros(3)
    assert dpo.dpo_loss(zero, zero, zero, zero).item() == pytest.approx(math.log(2))
    losses = [dpo.dpo_loss(torch.tensor([m]), zero[:1], zero[:1], zero[:1], beta=0.1).item() for m in (-5, 0, 5, 50)]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.01


def test_dpo_loss_matches_trls_sigmoid_formula():
    # TRL 1.x DPOTrainer, loss_type "sigmoid": -logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), averaged
    pc, pr, rc, rr = (
        torch.tensor([-3.0, -8.0]),
        torch.tensor([-5.0, -4.0]),
        torch.tensor([-4.0, -7.0]),
        torch.tensor([-4.0, -6.0]),
    )
    by_hand = [-math.log(1 / (1 + math.exp(-0.5 * m))) for m in ((-3 + 4) - (-5 + 4), (-8 + 7) - (-4 + 6))]
    assert dpo.dpo_loss(pc, pr, rc, rr, beta=0.5).item() == pytest.approx(sum(by_hand) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="beta must be > 0"):
        dpo.dpo_loss(pc, pr, rc, rr, beta=0)


def test_check_dpo_loss(capsys):
    assert m3_4.check_dpo_loss(lambda *args: dpo.dpo_loss(*args[:4], beta=args[4]))
    assert not m3_4.check_dpo_loss(lambda pc, pr, rc, rr, beta: dpo.dpo_loss(pc, pr, rc, rr, beta).sum() * 4)
    assert not m3_4.check_dpo_loss(
        lambda pc, pr, rc, rr, beta: -torch.nn.functional.logsigmoid(beta * (pc - pr)).mean()
    )
    assert not m3_4.check_dpo_loss(lambda *args: "low")
    assert "one number" in capsys.readouterr().out
