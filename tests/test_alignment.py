"""Alignment (preferences, rewards, ppo): PPO's loss pieces against hand-computed values, PPO raising the reward
under a KL leash, the reward model and DPO trained with TRL on the generated preference pairs."""

import copy
import dataclasses

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from llm_workshop import models
from llm_workshop.concepts import ppo, preferences, rewards, training
from llm_workshop.concepts.logprobs import completion_logprobs, completion_logprobs_from_ids
from llm_workshop.course import runtime
from llm_workshop.exercises import m3_4

pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated and will be removed in v6")  # transformers 5 renames
CPU = runtime.Runtime(tier="smoke", device=torch.device("cpu"), dtype=torch.float32, offline=True, seed=0)


# --- the loss pieces, by hand --------------------------------------------------------------------


def test_kl_penalised_rewards_by_hand():
    logprobs = torch.tensor([[-1.0, -0.5, -2.0], [-0.2, -0.4, -9.0]])
    ref = torch.tensor([[-1.5, -0.5, -1.0], [-0.3, -0.1, -1.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])  # the second completion ended after two tokens
    rewards, kl = ppo.kl_penalised_rewards(torch.tensor([2.0, -1.0]), logprobs, ref, mask, kl_coef=0.2)
    # row 0: log-ratios 0.5, 0, -1 -> -0.1, 0, 0.2, plus the score 2 on the last token
    # row 1: log-ratios 0.1, -0.3, (padding) -> -0.02, 0.06 - 1 (score on its last real token), 0
    assert torch.allclose(kl, torch.tensor([[0.5, 0.0, -1.0], [0.1, -0.3, 0.0]]))
    assert torch.allclose(rewards, torch.tensor([[-0.1, 0.0, 2.2], [-0.02, -0.94, 0.0]]))


def test_gae_by_hand():
    rewards = torch.tensor([[0.0, 0.5, 1.0]])
    values = torch.tensor([[0.4, 0.2, 0.6]])
    mask = torch.ones(1, 3)
    advantages, returns = ppo.gae(rewards, values, mask, gamma=0.9, lam=0.5)
    # deltas: d2 = 1 - 0.6 = 0.4; d1 = 0.5 + 0.9*0.6 - 0.2 = 0.84; d0 = 0 + 0.9*0.2 - 0.4 = -0.22
    # A2 = 0.4; A1 = 0.84 + 0.45*0.4 = 1.02; A0 = -0.22 + 0.45*1.02 = 0.239
    assert torch.allclose(advantages, torch.tensor([[0.239, 1.02, 0.4]]))
    assert torch.allclose(returns, torch.tensor([[0.639, 1.22, 1.0]]))


def test_gae_ignores_padding_after_the_end():
    rewards = torch.tensor([[0.0, 1.0, 5.0]])
    values = torch.tensor([[0.5, 0.5, 7.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    advantages, returns = ppo.gae(rewards, values, mask, gamma=1.0, lam=1.0)
    # the padded token's reward and value are ignored: A1 = 1 - 0.5, A0 = 0 + 0.5 - 0.5 + 0.5
    assert torch.allclose(advantages, torch.tensor([[0.5, 0.5, 0.0]]))
    assert torch.allclose(returns, torch.tensor([[1.0, 1.0, 0.0]]))


def test_clipped_policy_loss_by_hand():
    old = torch.zeros(1, 4)
    new = torch.log(torch.tensor([[1.5, 1.5, 0.5, 1.1]]))  # ratios 1.5, 1.5, 0.5, 1.1
    adv = torch.tensor([[1.0, -1.0, 1.0, -2.0]])
    loss = ppo.policy_loss(new, old, adv, torch.ones(1, 4), clip=0.2)
    # per token max(-A r, -A clip(r)): max(-1.5, -1.2) = -1.2; max(1.5, 1.2) = 1.5; max(-0.5, -0.8) = -0.5;
    # max(2.2, 2.2) = 2.2 -> mean 0.5
    assert loss.item() == pytest.approx(0.5)


def test_clipped_value_loss_by_hand():
    values = torch.tensor([[1.0, 0.0]])
    old = torch.tensor([[0.5, 0.5]])
    returns = torch.tensor([[2.0, 0.0]])
    loss = ppo.value_loss(values, old, returns, torch.ones(1, 2), clip=0.2)
    # token 0: (1-2)^2 = 1, clipped value 0.7 -> 1.69 -> 1.69; token 1: 0, clipped 0.3 -> 0.09 -> 0.09
    assert loss.item() == pytest.approx(0.5 * (1.69 + 0.09) / 2)


def test_masked_whiten_has_zero_mean_unit_variance_on_the_mask():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    white = ppo.masked_whiten(x, mask)
    assert white[0, 3] == 0
    assert ppo.masked_mean(white, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert ppo.masked_mean(white**2, mask).item() == pytest.approx(1.0, abs=1e-5)


def test_bad_shapes_and_settings_are_refused():
    with pytest.raises(ValueError, match="same"):
        ppo.kl_penalised_rewards(torch.zeros(1), torch.zeros(1, 3), torch.zeros(1, 2), torch.ones(1, 3), 0.1)
    with pytest.raises(ValueError, match="multiple of minibatch_size"):
        ppo.PPOConfig(batch_size=10, minibatch_size=4)
    with pytest.raises(ValueError, match="kl_coef"):
        ppo.PPOConfig(kl_coef=-1)


def test_check_kl_penalised_rewards_verdicts(capsys):
    assert m3_4.check_kl_penalised_rewards(lambda *args: ppo.kl_penalised_rewards(*args)[0])

    def no_score(scores, logprobs, ref, mask, kl_coef):
        return -kl_coef * (logprobs - ref) * mask

    def last_column(scores, logprobs, ref, mask, kl_coef):
        rewards = no_score(scores, logprobs, ref, mask, kl_coef)
        rewards[:, -1] += scores
        return rewards

    def wrong_sign(scores, logprobs, ref, mask, kl_coef):
        return ppo.kl_penalised_rewards(scores, logprobs, ref, mask, -kl_coef)[0]

    assert not m3_4.check_kl_penalised_rewards(no_score)
    assert "score" in capsys.readouterr().out
    assert not m3_4.check_kl_penalised_rewards(last_column)  # right on the toy, wrong on padded rows
    assert "mask" in capsys.readouterr().out
    assert not m3_4.check_kl_penalised_rewards(wrong_sign)
    assert "sign" in capsys.readouterr().out
    assert not m3_4.check_kl_penalised_rewards(lambda *args: [0.0, 0.0])
    assert not m3_4.check_kl_penalised_rewards(lambda *args: "not numbers")
    assert not m3_4.check_kl_penalised_rewards(lambda *args: 1 / 0)


@pytest.mark.slow
def test_ppo_train_uses_the_penalised_rewards_it_is_given():
    """A reward shaping that ignores the score and the KL leaves nothing to learn: every penalised reward is zero."""
    calls = []

    def shaping(scores, logprobs, ref, mask, kl_coef):
        calls.append(tuple(logprobs.shape))
        return torch.zeros_like(logprobs)

    policy, tokenizer = models.load("gpt2", "smoke")
    reference, _ = models.load("gpt2", "smoke")
    config = ppo.PPOConfig(steps=2, batch_size=4, minibatch_size=2, ppo_epochs=1, max_new_tokens=3)
    logs, _ = ppo.ppo_train(policy, reference, rewards.lexicon_reward, ["The movie was"], config, tokenizer,
                            progress=False, penalised_rewards=shaping)  # fmt: skip
    assert len(calls) == 2 and all(log["penalised_reward"] == 0 for log in logs)


# --- preference data -----------------------------------------------------------------------------


def test_generated_pairs_prefer_positive_words_and_are_seeded():
    pairs = preferences.generated_pairs(50, seed=3)
    assert pairs == preferences.generated_pairs(50, seed=3)
    assert pairs != preferences.generated_pairs(50, seed=4)
    assert all(preferences.lexicon_score(p["chosen"]) > 0 > preferences.lexicon_score(p["rejected"]) for p in pairs)
    assert models.preference_pairs("smoke", 50, seed=3) == pairs


def test_pairs_from_reviews_splits_prompt_and_continuations():
    texts = ["one two three four good good good", "uno dos tres cuatro bad bad bad"]
    pairs = preferences.pairs_from_reviews(texts, [1, 0], n=3, prompt_words=4, completion_words=2)
    assert pairs[0] == {"prompt": "one two three four", "chosen": " good good", "rejected": " bad bad"}
    with pytest.raises(ValueError, match="both positive"):
        preferences.pairs_from_reviews(texts, [1, 1], n=1)


def test_unknown_tier_and_empty_requests_are_refused():
    with pytest.raises(ValueError, match="unknown tier"):
        models.preference_pairs("medium", 5)
    with pytest.raises(ValueError, match="unknown tier"):
        models.prompts_for("medium", 5)
    with pytest.raises(ValueError, match="positive number"):
        preferences.generated_pairs(0)


# --- models: log-probabilities, rewards, PPO --------------------------------------------------------


@pytest.fixture(scope="module")
def sft():
    """The smoke GPT-2 after a short SFT on both sides of the generated pairs (step 1 of RLHF)."""
    torch.manual_seed(0)
    policy, tokenizer = models.load("gpt2", "smoke")
    pairs = preferences.generated_pairs(300, seed=0)
    text = tokenizer.eos_token.join(p["prompt"] + p[side] for p in pairs for side in ("chosen", "rejected"))
    training.pretrain_causal_lm(policy, tokenizer, text, steps=100, seq_len=48, batch_size=16, lr=3e-3)
    return policy, tokenizer


@pytest.mark.slow
def test_rollout_logprobs_match_unpadded_scoring(sft):
    policy, tokenizer = sft
    torch.manual_seed(0)
    prompts = ["The movie was", "I thought the plot of this film"]  # different lengths: left padding
    roll = ppo.rollout(policy, tokenizer, prompts, rewards.lexicon_reward, ref_policy=policy)
    assert roll.prompt_len == max(len(tokenizer(p)["input_ids"]) for p in prompts)
    completions = [roll.input_ids[i, roll.prompt_len :][roll.mask[i].bool()] for i in range(len(prompts))]
    unpadded = completion_logprobs_from_ids(policy, [tokenizer(p)["input_ids"] for p in prompts], completions)
    assert torch.allclose((roll.logprobs * roll.mask).sum(1), unpadded, atol=1e-4)
    assert torch.equal(roll.logprobs, roll.ref_logprobs)  # the policy is its own reference here


@pytest.mark.slow
def test_ppo_raises_the_reward_and_the_kl_coef_bounds_the_kl(sft):
    policy, tokenizer = sft
    prompts = preferences.review_prompts(64, seed=1)
    eval_prompts = preferences.review_prompts(48, seed=2)
    before = ppo.evaluate_policy(policy, tokenizer, eval_prompts, rewards.lexicon_reward, ref_policy=policy)
    config = ppo.PPOConfig(steps=10, batch_size=16, minibatch_size=8, learning_rate=1e-3)
    results = {}
    for kl_coef in (0.0, 1.0):
        trained = copy.deepcopy(policy)
        logs, _ = ppo.ppo_train(
            trained,
            policy,
            rewards.lexicon_reward,
            prompts,
            dataclasses.replace(config, kl_coef=kl_coef),
            tokenizer,
            progress=False,
        )
        assert set(logs[0]) >= {"reward", "kl", "policy_loss", "value_loss"} and len(logs) == 10
        results[kl_coef] = ppo.evaluate_policy(
            trained, tokenizer, eval_prompts, rewards.lexicon_reward, ref_policy=policy
        )
    reward_before = before["scores"].mean().item()
    assert results[1.0]["scores"].mean().item() > reward_before + 0.2  # measured: 0.08 -> 0.58
    assert results[0.0]["scores"].mean().item() > reward_before + 1.0  # measured: 0.08 -> 3.10
    assert results[1.0]["kl"].mean().item() < 0.5 * results[0.0]["kl"].mean().item()  # measured: 3.2 vs 44 nats


@pytest.mark.slow
def test_ppo_is_deterministic_and_leaves_the_reference_alone(sft):
    policy, tokenizer = sft
    reference_state = {k: v.clone() for k, v in policy.state_dict().items()}
    config = ppo.PPOConfig(steps=2, batch_size=8, minibatch_size=4, ppo_epochs=2)
    runs = []
    for _ in range(2):
        trained = copy.deepcopy(policy)
        logs, _ = ppo.ppo_train(
            trained, policy, rewards.lexicon_reward, ["The movie was"], config, tokenizer, progress=False
        )
        runs.append(logs)
    assert runs[0] == runs[1]
    assert all(torch.equal(v, policy.state_dict()[k]) for k, v in reference_state.items())
    assert all(p.requires_grad for p in policy.parameters())


@pytest.mark.slow
def test_ppo_with_lora_uses_the_base_model_as_reference(sft):
    from peft import LoraConfig, get_peft_model

    base, tokenizer = sft
    policy = get_peft_model(copy.deepcopy(base), LoraConfig(r=4, target_modules=["c_attn"], fan_in_fan_out=True))
    torch.manual_seed(0)
    roll = ppo.rollout(policy, tokenizer, ["The movie was"] * 4, rewards.lexicon_reward)
    assert torch.allclose(roll.logprobs, roll.ref_logprobs)  # LoRA starts as a no-op (B = 0)
    config = ppo.PPOConfig(steps=3, batch_size=8, minibatch_size=8, learning_rate=1e-2)
    logs, _ = ppo.ppo_train(policy, None, rewards.lexicon_reward, ["The movie was"], config, tokenizer, progress=False)
    assert logs[-1]["kl"] != 0
    prompts, completions = ["The movie was"] * 2, [" great.", " a dull film"]
    tuned = completion_logprobs(policy, tokenizer, prompts, completions)
    with policy.disable_adapter():
        reference = completion_logprobs(policy, tokenizer, prompts, completions)
    assert torch.allclose(reference, completion_logprobs(base, tokenizer, prompts, completions), atol=1e-5)
    assert not torch.allclose(tuned, reference, atol=1e-3)


@pytest.mark.slow
def test_ppo_without_a_reference_needs_adapters(sft):
    policy, tokenizer = sft
    with pytest.raises(ValueError, match="ref_policy"):
        ppo.ppo_train(policy, None, rewards.lexicon_reward, ["x"], ppo.PPOConfig(steps=1), tokenizer, progress=False)
    with pytest.raises(ValueError, match="at least one prompt"):
        ppo.ppo_train(policy, policy, rewards.lexicon_reward, [], ppo.PPOConfig(), tokenizer)


@pytest.mark.slow
def test_sentiment_reward_model_grades_like_the_lexicon():
    assert models.model_path("sentiment", "full") == "lvwerra/distilbert-imdb"
    model, tokenizer = models.load("sentiment", "smoke", auto_class=AutoModelForSequenceClassification)
    reward = rewards.classifier_reward(model, tokenizer)
    scores = reward(["", "", ""], [" a wonderful, great film", " the film was shown on Tuesday", " awful and dull"])
    assert scores[0] > scores[1] > scores[2]
    assert rewards.pair_accuracy(model, tokenizer, preferences.generated_pairs(100, seed=99)) > 0.95


def trl_settings(tmp_path, **settings) -> dict:
    """What the TRL configs here share: an fp32 CPU run on short sequences, quiet, nothing saved."""
    return dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=16,
        learning_rate=1e-3,
        max_length=64,
        gradient_checkpointing=False,
        save_strategy="no",
        **{**runtime.trainer_args(CPU), "disable_tqdm": True},
        **settings,
    )


@pytest.mark.slow
def test_reward_trainer_learns_the_preference(tmp_path):
    from trl import RewardConfig, RewardTrainer

    pairs = preferences.generated_pairs(240, seed=0)
    path = models.model_path("distilbert", "smoke")
    tokenizer = AutoTokenizer.from_pretrained(path)
    args = RewardConfig(**trl_settings(tmp_path, num_train_epochs=1, eos_token=tokenizer.sep_token))
    trainer = RewardTrainer(
        model=path, args=args, train_dataset=Dataset.from_list(pairs[:200]), processing_class=tokenizer
    )
    before = rewards.pair_accuracy(trainer.model, tokenizer, pairs[200:])
    trainer.train()
    after = rewards.pair_accuracy(trainer.model, tokenizer, pairs[200:])
    assert after > 0.9 and after > before


@pytest.mark.slow
def test_dpo_raises_the_heldout_margin(sft, tmp_path):
    from trl import DPOConfig, DPOTrainer

    base, tokenizer = sft
    pairs = preferences.generated_pairs(200, seed=5)
    policy = copy.deepcopy(base)
    before = rewards.preference_margin(policy, tokenizer, pairs[160:])
    args = DPOConfig(**trl_settings(tmp_path, max_steps=10, beta=0.1))
    trainer = DPOTrainer(
        model=policy,
        ref_model=copy.deepcopy(base),
        args=args,
        train_dataset=Dataset.from_list(pairs[:160]),
        processing_class=tokenizer,
    )
    trainer.train()
    assert rewards.preference_margin(policy, tokenizer, pairs[160:]) > before + 2
