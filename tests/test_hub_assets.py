"""The full tier's helpers on the real tokenizers and configs in assets/hub: what only the real checkpoints expose.

Offline and in seconds: no weights are downloaded; where a model is needed it is built from the real config with
one layer and random weights.
"""

import hashlib
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoTokenizer

from llm_workshop import models
from llm_workshop.concepts import ppo, qa, rewards
from llm_workshop.concepts.sql import formats, scoring, shop, templates
from llm_workshop.standins.hub_datasets import dataset_standin

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import rehearsal  # noqa: E402  (scripts/rehearsal.py)

QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


@pytest.fixture(scope="module")
def qwen():
    return AutoTokenizer.from_pretrained(models.hub_files("chat"))


@pytest.fixture(scope="module")
def gpt2():
    return AutoTokenizer.from_pretrained(models.hub_files("gpt2"))


@pytest.fixture(scope="module")
def bert():
    return AutoTokenizer.from_pretrained(models.hub_files("distilbert"))


def test_assets_match_their_checksums():
    root = models.hub_files("gpt2").parent
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name


def test_every_registry_model_has_its_real_files():
    for name in models.REGISTRY:
        files = {p.name for p in models.hub_files(name).iterdir()}
        assert "config.json" in files and "tokenizer_config.json" in files, name


@pytest.mark.parametrize(
    ("name", "parameters"),
    [("gpt2", 124_439_808), ("gpt2-medium", 354_823_168), ("distilgpt2", 81_912_576)],
)
def test_gpt2_family_configs_give_the_published_parameter_counts(name, parameters):
    """gpt2-medium's and distilgpt2's configs are reconstructed (assets/hub/README.md): built on the meta device (no
    memory), they must have the parameter counts of the published checkpoints (GPT-2 small's config is the real one)."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(models.hub_files(name)))
    assert model.num_parameters() == parameters
    gpt2_files = models.hub_files("gpt2")
    for tokenizer_file in ("vocab.json", "merges.txt", "tokenizer.json"):  # the same byte-level BPE as GPT-2
        assert (models.hub_files(name) / tokenizer_file).read_bytes() == (gpt2_files / tokenizer_file).read_bytes()


def test_qwen_template_adds_its_default_system_prompt_only_without_a_system_message(qwen):
    user = [{"role": "user", "content": "Hello"}]
    assert QWEN_DEFAULT_SYSTEM in qwen.apply_chat_template(user, tokenize=False)
    example = {"schema": shop.SCHEMA_BRIEF["customers"], "question": "Who lives in Oslo?", "sql": "select 1"}
    rendered = qwen.apply_chat_template(formats.to_messages(example)[:2], tokenize=False, add_generation_prompt=True)
    assert QWEN_DEFAULT_SYSTEM not in rendered
    assert rendered == formats.format_prompt(example, "chatml")  # 3.3's check, with the real template


def test_qwen_special_tokens_and_prompt_prefix_for_completion_only_loss(qwen):
    assert (qwen.eos_token, qwen.pad_token) == ("<|im_end|>", "<|endoftext|>")
    assert (qwen.eos_token_id, qwen.pad_token_id, len(qwen)) == (151645, 151643, 151665)
    example = {"schema": shop.SCHEMA_BRIEF["products"], "question": "Top 3 products by price?", "sql": "select name"}
    messages = formats.to_messages(example)
    prompt = qwen.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    full = qwen.apply_chat_template(messages, tokenize=False)
    prompt_ids = qwen(prompt, add_special_tokens=False)["input_ids"]
    full_ids = qwen(full, add_special_tokens=False)["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids  # the loss mask 3.3 shows is a clean prefix split
    assert qwen.decode(full_ids[len(prompt_ids) :]) == "select name<|im_end|>\n"


def test_qwen_generation_config_samples_and_config_is_bf16():
    from transformers import GenerationConfig

    generation = GenerationConfig.from_pretrained(models.hub_files("chat"))
    assert generation.do_sample and generation.repetition_penalty == 1.1 and generation.top_k == 20
    config = AutoConfig.from_pretrained(models.hub_files("chat"))
    assert config.dtype == torch.bfloat16 and config.vocab_size == 151936 and config.tie_word_embeddings


def test_gpt2_has_no_pad_token_and_pads_right(gpt2):
    assert gpt2.pad_token is None and gpt2.eos_token_id == 50256 and gpt2.padding_side == "right"
    assert gpt2("Hello world")["input_ids"] == [15496, 995]
    with pytest.raises(ValueError, match="padding"):
        gpt2(["a", "a longer text"], padding=True)
    assert ppo._pad_id(gpt2) == gpt2.eos_token_id  # PPO pads GPT-2 with its end-of-text token


def test_distilbert_lower_cases_and_keeps_offsets_into_the_original_text(bert):

    assert bert("Hello, World!")["input_ids"] == [101, 7592, 1010, 2088, 999, 102]
    assert bert.tokenize("Baker Street") == ["baker", "street"]
    context = "Holmes lived at Baker Street in London."
    start = context.index("Baker Street")
    features = qa.encode_training_examples(bert, ["Where did Holmes live?"], [context], [start], ["Baker Street"])
    encoding = bert("Where did Holmes live?", context, return_offsets_mapping=True)
    first, last = int(features["start_positions"][0]), int(features["end_positions"][0])
    span = context[encoding["offset_mapping"][first][0] : encoding["offset_mapping"][last][1]]
    assert span == "Baker Street"  # the answer comes back in its original case


def test_sentiment_label_names_choose_the_positive_logit():
    config = AutoConfig.from_pretrained(models.hub_files("sentiment"))
    assert config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}
    config.num_hidden_layers = 1
    torch.manual_seed(0)
    from transformers import DistilBertForSequenceClassification

    model = DistilBertForSequenceClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 3.0]))  # POSITIVE (id 1) three nats above NEGATIVE
    tokenizer = AutoTokenizer.from_pretrained(models.hub_files("sentiment"))
    scores = rewards.classifier_scores(model, tokenizer, ["a film", "another film"])
    torch.testing.assert_close(scores, torch.tensor([3.0, 3.0]))


def test_shrunk_configs_keep_everything_but_depth():
    for name in ("chat", "gpt2", "sentiment"):
        real, shrunk = rehearsal.checkpoint_config(name, False), rehearsal.checkpoint_config(name, True)
        assert shrunk.num_hidden_layers == 2 < real.num_hidden_layers
        for key in ("vocab_size", "hidden_size", "num_attention_heads", "dtype", "id2label", "eos_token_id"):
            assert getattr(shrunk, key, None) == getattr(real, key, None), (name, key)
    qwen = rehearsal.checkpoint_config("chat", True)
    assert len(qwen.layer_types) == 2 and type(qwen).from_dict(qwen.to_dict()).num_hidden_layers == 2


def test_imdb_standin_has_the_real_schema_and_feeds_the_full_tier_adapters(monkeypatch):
    monkeypatch.setenv("LLM_WORKSHOP_REHEARSAL", "shrink")
    train = dataset_standin("stanfordnlp/imdb", "train")
    assert train.features["label"].names == ["neg", "pos"] and train.features["text"].dtype == "string"
    unsupervised = dataset_standin("stanfordnlp/imdb", "unsupervised")
    assert set(train["label"]) == {0, 1} and set(unsupervised["label"]) == {-1}
    pairs = models.preference_pairs("full", 50, seed=0)  # through data.hub_dataset, the seam the notebooks use
    assert len(pairs) == 50 and all(set(p) == {"prompt", "chosen", "rejected"} for p in pairs)
    assert not any("<br" in p["chosen"] + p["rejected"] for p in pairs)
    assert len(models.prompts_for("full", 20)) == 20


def test_sql_create_context_standin_and_adapter(monkeypatch):
    monkeypatch.setenv("LLM_WORKSHOP_REHEARSAL", "shrink")
    from llm_workshop.models import hub_dataset

    rows = hub_dataset("b-mc2/sql-create-context", "train")
    assert rows.column_names == ["question", "context", "answer"]
    example = templates.from_sql_create_context(rows[0])
    assert example["schema"].startswith("CREATE TABLE") and example["sql"] == rows[0]["answer"]
    assert formats.format_prompt(example, "chatml", include_answer=True).endswith(example["sql"] + "<|im_end|>\n")
    with pytest.raises(KeyError, match="answer"):
        templates.from_sql_create_context({"question": "q", "context": "c"})
    with pytest.raises(ValueError, match="splits"):
        hub_dataset("b-mc2/sql-create-context", "test")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("```sql\nSELECT name FROM customers WHERE city = 'Oslo';\n```\nThis query lists them.", "SELECT name FROM customers WHERE city = 'Oslo';"),
        ("Here it is:\n```\nselect count(*) from orders\n```", "select count(*) from orders"),
        ("```sql\nSELECT avg(price)\nFROM products", "SELECT avg(price)\nFROM products"),  # cut off before the closing fence
        ("```SQL SELECT 1 ```", "SELECT 1"),
        ("  select 1  ", "select 1"),
    ],
)  # fmt: skip
def test_fenced_sql_is_extracted_so_the_sandbox_scores_the_query(tmp_path, answer, expected):
    assert formats.extract_sql(answer) == expected


def test_a_fenced_answer_scores_as_its_query(tmp_path):
    db = tmp_path / "shop.db"
    shop.make_database(db)
    gold = "select count(*) from customers where city = 'Oslo'"
    fenced = f"```sql\n{gold.upper().replace('OSLO', 'Oslo')};\n```"
    assert scoring.execution_accuracy([fenced], [gold], db) == 0.0  # the sandbox refuses "```sql": formatting, not SQL
    assert scoring.execution_accuracy([formats.extract_sql(fenced)], [gold], db) == 1.0
    with pytest.raises(TypeError):
        formats.extract_sql(None)


def test_minilm_vocabulary_is_berts_uncased_wordpiece(bert):
    """all-MiniLM-L6-v2 tokenizes as DistilBERT does: the same vocabulary file, the same ids."""
    minilm = models.hub_files("encoder")
    assert (minilm / "vocab.txt").read_bytes() == (models.hub_files("distilbert") / "vocab.txt").read_bytes()
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    assert len(tokenizer) == 30522 and tokenizer("Hello, World!")["input_ids"] == bert("Hello, World!")["input_ids"]


def test_sentence_transformers_loads_a_random_weight_minilm_as_our_pooling_does(tmp_path):
    """The real module files (mean pooling, normalisation, 256 tokens) with random weights of the real width."""
    import shutil

    import numpy as np
    from sentence_transformers import SentenceTransformer
    from transformers import BertModel

    from llm_workshop.concepts import dense

    shutil.copytree(models.hub_files("encoder"), tmp_path, dirs_exist_ok=True)
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(tmp_path, num_hidden_layers=1)  # one layer: seconds, not a 90 MB model
    BertModel(config, add_pooling_layer=False).save_pretrained(tmp_path)
    model = SentenceTransformer(str(tmp_path), device="cpu")
    assert model.max_seq_length == 256 and model.similarity_fn_name == "cosine"
    texts = ["The speckled band", "A swamp adder"]
    vectors = model.encode(texts)
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    ours = dense.encode_all(BertModel.from_pretrained(tmp_path), AutoTokenizer.from_pretrained(tmp_path), texts)
    assert np.abs(vectors - ours).max() < 1e-5, f"sentence-transformers vs ours: {np.abs(vectors - ours).max():.1e}"
