"""The shared training loop: seeded batches, one step that clips and schedules, a loop whose loss falls, and
`training.pretrain_causal_lm` through it giving what the loop written out by hand gives."""

import math
import warnings

import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config, TrainingArguments

from llm_workshop.concepts import training
from llm_workshop.exercises import m2_1, m3_3
from llm_workshop.standins.tokenizer import smoke_tokenizer


def test_random_rows_are_seeded_and_in_range():
    rows = list(training.random_rows(10, steps=5, batch_size=4, seed=3))
    assert len(rows) == 5 and all(r.shape == (4,) and 0 <= r.min() and r.max() < 10 for r in rows)
    assert all(torch.equal(a, b) for a, b in zip(rows, training.random_rows(10, 5, 4, seed=3)))
    assert not all(torch.equal(a, b) for a, b in zip(rows, training.random_rows(10, 5, 4, seed=4)))


def test_random_windows_are_slices_of_the_ids():
    ids = torch.arange(100, 200)
    batches = list(training.random_windows(ids, steps=3, batch_size=2, seq_len=8, seed=0))
    assert len(batches) == 3
    for batch in batches:
        assert batch["input_ids"].shape == (2, 8) and batch["labels"] is batch["input_ids"]
        assert (batch["input_ids"].diff(dim=1) == 1).all()  # consecutive tokens of ids


def test_bad_batches_are_refused():
    with pytest.raises(ValueError, match="seq_len=8 need at least 10"):
        next(training.random_windows(torch.arange(9), steps=1, batch_size=2, seq_len=8))
    with pytest.raises(ValueError, match="batch_size"):
        next(training.random_rows(10, steps=1, batch_size=0))


def test_step_clips_the_gradient_norm_then_steps_and_zeroes():
    weight = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    loss = (weight * torch.tensor([30.0, 40.0])).sum()  # gradient (30, 40), norm 50
    assert training.step(optimizer, loss, max_grad_norm=5.0) == 0.0
    assert torch.allclose(weight.detach(), torch.tensor([-3.0, -4.0]))  # clipped to norm 5, one SGD step of lr 1
    assert weight.grad is None


def test_train_lowers_the_loss_and_leaves_eval_mode(tiny_gpt2):
    model = tiny_gpt2(vocab_size=64, n_layer=1)
    ids = torch.randint(0, 64, (400,), generator=torch.Generator().manual_seed(0)) % 8  # 8 tokens: learnable
    batches = training.random_windows(ids, steps=40, batch_size=8, seq_len=16)
    losses = training.train(model, batches, torch.optim.AdamW(model.parameters(), lr=1e-2))
    assert len(losses) == 40 and sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1
    assert not model.training


def test_train_with_a_loss_function():
    layer = torch.nn.Linear(1, 1)
    data = [(torch.tensor([[x]]), torch.tensor([[2 * x]])) for x in (1.0, 2.0, 3.0)] * 50

    def mse(model, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(model(x), y)

    losses = training.train(layer, data, torch.optim.SGD(layer.parameters(), lr=0.05), loss_fn=mse)
    assert losses[-1] < 1e-3 < losses[0]


@pytest.mark.slow
def test_pretrain_causal_lm_is_the_loop_written_out():
    """The shared loop gives, to the bit, what pretrain_causal_lm's loop gave when it was written out by hand."""
    text = "It is a capital mistake to theorize before one has data. " * 40
    tokenizer = smoke_tokenizer("causal")
    steps, seq_len, batch_size, lr = 6, 16, 4, 3e-3
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=32, n_embd=32, n_layer=1, n_head=2)
    ours = AutoModelForCausalLM.from_config(config)
    by_hand = AutoModelForCausalLM.from_config(config)
    by_hand.load_state_dict(ours.state_dict())
    torch.manual_seed(0)
    losses = training.pretrain_causal_lm(ours, tokenizer, text, steps, seq_len, batch_size, lr)

    torch.manual_seed(0)
    ids = torch.tensor(tokenizer(text)["input_ids"])
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(by_hand.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    by_hand.train()
    expected = []
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - seq_len - 1, (batch_size,), generator=generator).tolist()
        batch = torch.stack([ids[s : s + seq_len] for s in starts])
        loss = by_hand(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(by_hand.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        expected.append(loss.item())
    assert losses == expected
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), by_hand.parameters()))


@pytest.mark.parametrize(
    "losses, patience, expected",
    [
        ([3.0, 2.5, 2.2, 2.3, 2.4, 2.5], 2, (2, 4)),
        ([3.0, 2.8, 2.9, 2.7, 2.75, 2.8], 2, (3, 5)),
        ([3.0, 2.8, 2.9, 2.7, 2.75, 2.8], 1, (1, 2)),
        ([2.0, 2.0, 2.0], 2, (0, 2)),
        ([3.0, 2.0, 1.5], 1, (2, None)),
        ([1.0], 3, (0, None)),
    ],
)
def test_early_stopping_stops_patience_evaluations_after_the_best(losses, patience, expected):
    assert training.early_stopping(losses, patience) == expected


def test_early_stopping_agrees_with_the_transformers_callback():
    from transformers import EarlyStoppingCallback, TrainerControl, TrainerState, TrainingArguments

    losses = [3.0, 2.8, 2.9, 2.7, 2.75, 2.8, 2.9]
    args = TrainingArguments(output_dir="unused", metric_for_best_model="eval_loss", greater_is_better=False)
    callback, state, control = EarlyStoppingCallback(early_stopping_patience=2), TrainerState(), TrainerControl()
    stop = None
    for i, loss in enumerate(losses):
        callback.on_evaluate(args, state, control, metrics={"eval_loss": loss})
        if state.best_metric is None or loss < state.best_metric:
            state.best_metric = loss  # what the Trainer records after each evaluation
        if control.should_training_stop:
            stop = i
            break
    assert training.early_stopping(losses, 2) == (3, stop) == (3, 5)


def test_early_stopping_refuses_bad_input():
    with pytest.raises(ValueError, match="patience"):
        training.early_stopping([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="empty"):
        training.early_stopping([], 2)


def test_check_early_stopping():
    assert m2_1.check_early_stopping(training.early_stopping) is True

    def argmin_only(losses, patience):  # ignores patience: stops right after the minimum
        best = min(range(len(losses)), key=losses.__getitem__)
        return best, best + 1 if best + 1 < len(losses) else None

    def resets_on_equal(losses, patience):  # counts "not worse" as an improvement
        best, waited = 0, 0
        for i, loss in enumerate(losses[1:], 1):
            if loss <= losses[best]:
                best, waited = i, 0
            else:
                waited += 1
                if waited >= patience:
                    return best, i
        return best, None

    assert m2_1.check_early_stopping(argmin_only) is False
    assert m2_1.check_early_stopping(resets_on_equal) is False
    assert m2_1.check_early_stopping(lambda losses, patience: None) is False
    assert m2_1.check_early_stopping(lambda losses, patience: 1 / 0) is False


def test_completion_labels_and_its_check(capsys):
    assert training.completion_labels([1, 2], [3]) == ([1, 2, 3], [-100, -100, 3])
    assert m3_3.check_completion_labels(training.completion_labels)
    assert not m3_3.check_completion_labels(lambda p, c: (p + c, p + c))  # trains on the prompt too
    assert not m3_3.check_completion_labels(lambda p, c: (c, c))
    assert not m3_3.check_completion_labels(lambda p, c: 42)
    assert "-100" in capsys.readouterr().out


def test_checkpointing_switches_use_the_current_name_without_a_deprecation_warning(tiny_gpt2, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, **training.checkpointing_args(True))
        model = training.enable_checkpointing(tiny_gpt2())
    assert getattr(args, "activation_checkpointing", None) or args.gradient_checkpointing
    assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules())
