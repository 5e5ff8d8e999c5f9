"""L2-SP and EWC penalties: zero at the anchor, the right gradient, a Fisher that weighs what the old task needs."""

import pytest
import torch
from torch import nn

from llm_workshop.concepts import forgetting, training
from llm_workshop.exercises import m3_2


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_penalty_is_zero_at_the_anchor_and_its_gradient_pulls_back():
    model = small_model()
    anchor = forgetting.snapshot(model)
    assert forgetting.anchor_penalty(model, anchor).item() == 0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    importance = {name: torch.full_like(t, 2.0) for name, t in anchor.items()}
    penalty = forgetting.anchor_penalty(model, anchor, importance)
    n = sum(p.numel() for p in model.parameters())
    assert penalty.item() == pytest.approx(2.0 * 0.25 * n)
    penalty.backward()
    for p in model.parameters():  # d/dθ F (θ − θ0)² = 2 F (θ − θ0) = 2 · 2 · 0.5
        assert torch.allclose(p.grad, torch.full_like(p, 2.0))


def test_fisher_is_the_mean_squared_gradient_scaled_to_mean_one():
    model = small_model()

    class Wrapped(nn.Module):  # a model(**batch).loss interface, as transformers models have
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x, y):
            return type("Out", (), {"loss": nn.functional.mse_loss(self.net(x), y)})()

    wrapped = Wrapped(model)
    gen = torch.Generator().manual_seed(1)
    batches = [{"x": torch.randn(5, 3, generator=gen), "y": torch.randn(5, 2, generator=gen)} for _ in range(3)]
    fisher = forgetting.fisher_diagonal(wrapped, batches)
    raw = {name: torch.zeros_like(p) for name, p in wrapped.named_parameters()}
    for batch in batches:
        wrapped.zero_grad()
        wrapped(**batch).loss.backward()
        for name, p in wrapped.named_parameters():
            raw[name] += p.grad**2 / len(batches)
    mean = sum(r.sum() for r in raw.values()) / sum(r.numel() for r in raw.values())
    for name in raw:
        assert torch.allclose(fisher[name], raw[name] / mean, atol=1e-6)
    assert sum(f.sum() for f in fisher.values()) / sum(f.numel() for f in fisher.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one batch"):
        forgetting.fisher_diagonal(wrapped, [])


def test_ewc_keeps_the_old_task_better_than_plain_fine_tuning(tiny_gpt2):
    """Pre-train on one token pattern, fine-tune on another: the EWC run keeps a lower loss on the first."""
    model = tiny_gpt2(bos_token_id=0, eos_token_id=0)
    old = torch.arange(32).remainder(7).repeat(8, 1)
    new = torch.arange(32).remainder(5).repeat(8, 1) + 20
    training.fit(model, [{"input_ids": old, "labels": old}] * 40, 40, lr=1e-2)
    fisher = forgetting.fisher_diagonal(model, [{"input_ids": old, "labels": old}])
    results = {}
    for name, lam in (("plain", 0.0), ("ewc", 50.0)):
        run = type(model)(model.config)
        run.load_state_dict(model.state_dict())
        anchor = forgetting.snapshot(run)

        def loss_fn(m, batch, anchor=anchor, lam=lam):
            return m(**batch).loss + lam / 2 * forgetting.anchor_penalty(m, anchor, fisher)

        training.fit(run, [{"input_ids": new, "labels": new}] * 30, 30, lr=1e-2, loss_fn=loss_fn)
        with torch.no_grad():
            results[name] = run(input_ids=old, labels=old).loss.item()
    assert results["ewc"] < results["plain"], results


def test_bad_anchor_raises():
    model = small_model()
    with pytest.raises(ValueError, match="snapshot"):
        forgetting.anchor_penalty(model, {"nope.weight": torch.zeros(1)})


def test_check_anchor_penalty(capsys):
    assert m3_2.check_anchor_penalty(forgetting.anchor_penalty)
    detached = lambda m, a, i=None: forgetting.anchor_penalty(m, a, i).detach()  # noqa: E731
    assert not m3_2.check_anchor_penalty(detached)
    assert "no gradient" in capsys.readouterr().out
    assert not m3_2.check_anchor_penalty(lambda m, a, i=None: forgetting.anchor_penalty(m, a))  # ignores F
    assert "EWC" in capsys.readouterr().out
    everything = lambda m, a, i=None: sum(((p - p.detach() * 0) ** 2).sum() for p in m.parameters())  # noqa: E731
    assert not m3_2.check_anchor_penalty(everything)
    assert not m3_2.check_anchor_penalty(lambda m, a, i=None: 0.0)
    assert not m3_2.check_anchor_penalty(lambda m, a, i=None: 1 / 0)
