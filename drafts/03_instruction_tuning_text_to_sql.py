# %% [markdown]
# # 3.3 Instruction tuning for text-to-SQL with QLoRA
#
# <a target="_blank" href="https://colab.research.google.com/github/llm-workshop/llm_workshop/blob/main/module_03/03_instruction_tuning_text_to_sql.ipynb"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# **You will be able to:**
# - explain how instruction tuning differs from plain fine-tuning, and what makes a good instruction data set;
# - write the Llama 2, Llama 3 and ChatML prompt formats by hand, and use a model's own `apply_chat_template`;
# - instruction-tune a chat model with QLoRA (4-bit NF4 weights, double quantization, a paged 8-bit optimizer,
#   gradient checkpointing) and TRL's `SFTTrainer`, with the loss on the answer only;
# - score text-to-SQL by *executing* the generated SQL in a read-only sandbox (execution accuracy), base vs tuned;
# - save, reload, merge and swap LoRA adapters.
#
# **Time:** about 60 minutes. **Tiers:** `smoke` runs offline on any CPU: a tiny Qwen2-style chat model, a generated
# data set, the same QLoRA code path on the CPU build of bitsandbytes (about a minute). `full` fine-tunes
# `Qwen/Qwen2.5-0.5B-Instruct` on `b-mc2/sql-create-context` plus the generated set and **needs a CUDA GPU**
# (a Colab T4 is enough: Runtime > Change runtime type > T4 GPU).

# %%
# Setup: on Colab, fetch the course repository and install it; elsewhere it is installed already.
import sys

if "google.colab" in sys.modules:
    !test -d llm_workshop_course || git clone --quiet --depth 1 https://github.com/llm-workshop/llm_workshop.git llm_workshop_course
    %pip install --quiet -e llm_workshop_course
    sys.path.insert(0, "llm_workshop_course")

from llm_workshop import runtime

rt = runtime.setup(requires_gpu=True)

# %% [markdown]
# ## 1. Instruction tuning vs plain fine-tuning
#
# In module 2 we fine-tuned GPT-2 on raw text: every token of a story was a target, and the model learned to
# continue text *in that style*. **Instruction tuning** is still supervised fine-tuning (next-token prediction with
# cross-entropy), but on *(instruction, input, response)* examples wrapped in a fixed prompt format:
#
# | | plain fine-tuning | instruction tuning |
# | --- | --- | --- |
# | data | text of the target domain | instruction + input → response pairs |
# | example | `The cat is on the mat.` → `Le chat est sur le tapis.` | *Translate to French:* `The cat is on the mat.` → `Le chat est sur le tapis.` |
# | loss on | every token | usually only the response tokens |
# | result | continues text like the data | follows the instruction, stops when done |
#
# The instruction tells the model *which* task it is doing, so one model learns many tasks and generalises to
# instructions it has not seen, and the task needs no special head or loss: the answer is just more text.
#
# **What makes a good instruction data set?**
# - **Quality first.** Every response is correct and in the style you want; garbage in, garbage out. For SQL we can
#   do better than eyeballing: every gold query must *execute* and return a non-empty answer.
# - **Diversity.** Many phrasings, many query shapes (filters, joins, aggregates, group by, order/limit), many
#   values, so the model learns the mapping rather than a few strings.
# - **Consistent format.** One prompt template, the same one at training and at inference time.
# - **An honest held-out set.** Test questions use phrasings and values that never occur in training, so memorising
#   the training set does not pass.
# - **Enough of it.** Thousands of examples for a real model (sql-create-context has about 78k); our smoke model gets
#   a few hundred because it is tiny and the task is narrow.
#
# ## 2. Configuration per tier
#
# One code path, two sizes. The smoke tier keeps sequences short and the learning rate high so that a
# ~0.6M-parameter model learns the task in a few hundred CPU steps.

# %%
import hashlib
import time
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset
from peft import LoraConfig, PeftModel, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import SFTConfig, SFTTrainer

from llm_workshop import models, sql

SMOKE = rt.tier == "smoke"
CFG = {
    "n_train": 1200 if SMOKE else 2000,  # generated examples (full tier: plus sql-create-context)
    "n_sql_create_context": 0 if SMOKE else 4000,
    "n_test": 36 if SMOKE else 90,
    "max_length": 128 if SMOKE else 384,
    "batch_size": 8,
    "grad_accum": 1 if SMOKE else 2,
    "max_steps": 120 if SMOKE else 400,
    "learning_rate": 5e-3 if SMOKE else 2e-4,  # tiny LoRA on a tiny model needs a much higher learning rate
    "lora_r": 16,
    "max_new_tokens": 48,
    "min_gain": 0.3 if SMOKE else 0.2,  # required execution-accuracy gain of the tuned model over the base model
}
WORKDIR = Path("build") / "text_to_sql"  # relative to this notebook; git ignores build/
WORKDIR.mkdir(parents=True, exist_ok=True)
DB_PATH = WORKDIR / "shop.db"
MODEL_PATH = models.model_path("chat", rt.tier)  # a local directory (smoke) or "Qwen/Qwen2.5-0.5B-Instruct" (full)
print(MODEL_PATH if not SMOKE else "smoke chat model (tiny Qwen2, ChatML template)", CFG)

# %% [markdown]
# ## 3. A database to ask questions about
#
# Text-to-SQL is easy to *grade*: run the predicted query and the gold query on the same database and compare the
# rows. `sql.make_database` writes a small SQLite shop (customers, products, orders) with generated rows.

# %%
schema = sql.make_database(DB_PATH, seed=0)
print(schema)
db_hash = hashlib.sha256(DB_PATH.read_bytes()).hexdigest()
pd.DataFrame(sql.execute_readonly(DB_PATH, "SELECT * FROM customers LIMIT 5"), columns=["id", "name", "city", "age"])

# %% [markdown]
# Training and test examples come from templates: each SQL shape has several question phrasings, and the test split
# uses phrasings, cities, categories and numbers that no training example uses. The schema in each prompt is the
# compact `table(columns)` form of the tables the question needs, and the SQL keywords are lower case: SQLite does
# not care, and the smoke model's tokenizer (trained on prose) spells `SELECT` letter by letter but knows `select`.

# %%
train_examples = sql.make_examples(CFG["n_train"], seed=0, split="train")
test_examples = sql.make_examples(CFG["n_test"], seed=0, split="test")
pd.DataFrame(train_examples[:4] + test_examples[:3])

# %% [markdown]
# Every gold query executes and returns something, a data-quality check worth running on any SQL data set:

# %%
for example in train_examples + test_examples:
    assert sql.execute_readonly(DB_PATH, example["sql"]), example
train_questions = {e["question"] for e in train_examples}
assert not any(e["question"] in train_questions for e in test_examples), "a test question leaked into training"
print(f"{len(train_examples)} training and {len(test_examples)} test examples, all gold queries execute")

# %% [markdown]
# In the full tier we add [`b-mc2/sql-create-context`](https://huggingface.co/datasets/b-mc2/sql-create-context):
# WikiSQL and Spider questions with the `CREATE TABLE` statements they need (`context`) and the SQL (`answer`). It
# has no databases, so we train on it but *evaluate* on our executable test set.

# %%
if CFG["n_sql_create_context"]:
    from datasets import load_dataset

    scc = load_dataset("b-mc2/sql-create-context", split="train").shuffle(seed=0)
    scc = scc.select(range(CFG["n_sql_create_context"]))
    train_examples += [{"schema": r["context"], "question": r["question"], "sql": r["answer"]} for r in scc]
    print(train_examples[-1])
print(len(train_examples), "training examples")

# %% [markdown]
# ## 4. Prompt formats
#
# A chat model is trained with one exact format that marks who is speaking; prompting or fine-tuning it with another
# format wastes what it learned. The same example in four formats:

# %%
example = test_examples[0]
for style in sql.PROMPT_STYLES:
    print(f"----- {style} -----")
    print(sql.format_prompt(example, style, include_answer=True))

# %% [markdown]
# - **Llama 2** wraps the user turn in `[INST] … [/INST]` with the system prompt inside `<<SYS>>` tags.
# - **Llama 3 / 3.1** uses header tokens `<|start_header_id|>role<|end_header_id|>` and ends each turn with
#   `<|eot_id|>`. (Llama checkpoints are gated on the Hub, so this course shows their formats but trains Qwen.)
# - **ChatML** (Qwen, many others) uses `<|im_start|>role … <|im_end|>`.
# - **Alpaca** is a plain-text format with `### Instruction:` / `### Input:` / `### Response:` headings.
#
# Never type these by hand in training code: the tokenizer carries the model's own template as a Jinja string,
# and `apply_chat_template` renders it. Ours is ChatML, in both tiers:

# %%
tokenizer = AutoTokenizer.from_pretrained(MODEL_PATH)
messages = sql.to_messages(example)
rendered = tokenizer.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
print(rendered)
assert rendered == sql.format_prompt(example, "chatml"), "the model's template is not the ChatML we wrote"
print("eos:", tokenizer.eos_token, " pad:", tokenizer.pad_token)

# %% [markdown]
# ## 5. A sandbox to run a model's SQL
#
# We are about to execute text written by a model. `sql.execute_readonly` opens the file read-only (SQLite URI
# `mode=ro`), accepts one `SELECT`/`WITH` statement, installs an *authorizer* that denies every write, `ATTACH`,
# `PRAGMA` and extension loading, and a *progress handler* that stops a query after `timeout_s`. Let us attack it:

# %%
attacks = [
    "DELETE FROM customers",
    "SELECT 1; DROP TABLE orders",
    "WITH x AS (SELECT 1) INSERT INTO customers SELECT 999, 'x', 'y', 1",
    "ATTACH DATABASE 'other.db' AS other",
    "PRAGMA writable_schema = ON",
    "SELECT load_extension('evil')",
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n",
]
for attack in attacks:
    start = time.monotonic()
    try:
        sql.execute_readonly(DB_PATH, attack, timeout_s=0.5)
        raise AssertionError(f"the sandbox ran {attack!r}")
    except (sql.SQLSafetyError, sql.SQLTimeoutError) as error:
        print(f"{type(error).__name__:16s} {time.monotonic() - start:4.2f} s  {attack[:45]:45s} -> {error}")
assert hashlib.sha256(DB_PATH.read_bytes()).hexdigest() == db_hash, "the database file changed"
print("database file unchanged")

# %% [markdown]
# **Execution accuracy** is the fraction of predictions whose rows equal the gold rows (as a multiset, or in order
# when the gold query has `ORDER BY`). A query that fails or is refused simply counts as wrong:

# %%
gold = [e["sql"] for e in test_examples[:3]]
guesses = [gold[0], "select nonsense", "DROP TABLE products"]
print(sql.execution_accuracy(guesses, gold, DB_PATH))
assert sql.execution_accuracy(gold, gold, DB_PATH) == 1.0 and sql.execution_accuracy(guesses, gold, DB_PATH) == 1 / 3

# %% [markdown]
# ## 6. Load the base model in 4 bits (QLoRA)
#
# QLoRA (Dettmers et al., 2023) fine-tunes a model whose frozen weights are stored in **4-bit NormalFloat (NF4)**:
# 16 levels placed at the quantiles of a normal distribution, one scale per block of 64 weights. **Double
# quantization** stores those scales in 8 bits too (about 0.127 instead of 0.5 extra bits per weight). Matmuls
# dequantize a block on the fly to the compute dtype (bf16 on Ampere+, fp16 on a T4, fp32 on CPU: `rt.dtype`).
# Gradients flow *through* the frozen 4-bit weights into small LoRA matrices kept in higher precision.
#
# `prepare_model_for_kbit_training` freezes the base weights, casts the few non-quantized ones (norms, embeddings)
# to fp32 for stability, and enables **gradient checkpointing**: keep only each layer's input during the forward
# pass and recompute the rest in the backward pass, trading about 30% more compute for much less activation memory.
#
# bitsandbytes 0.50 also runs 4-bit layers on x86 CPUs, so the smoke tier takes this exact path; where a platform's
# bitsandbytes lacks it, we fall back to plain LoRA on full-precision weights and say so.

# %%
bnb_config = BitsAndBytesConfig(
    load_in_4bit=True,
    bnb_4bit_quant_type="nf4",
    bnb_4bit_use_double_quant=True,
    bnb_4bit_compute_dtype=rt.dtype,
)
device_map = {"": 0} if rt.device.type == "cuda" else "cpu"


def load_base(quantized: bool):
    """The base chat model, 4-bit (QLoRA) or in the compute dtype (plain LoRA, merging)."""
    if quantized:
        return AutoModelForCausalLM.from_pretrained(MODEL_PATH, quantization_config=bnb_config, device_map=device_map)
    return AutoModelForCausalLM.from_pretrained(MODEL_PATH, dtype=rt.dtype, device_map=device_map)


try:
    base_model = load_base(quantized=True)
    with torch.no_grad():  # one forward pass proves the 4-bit kernels run here
        base_model(**tokenizer("select", return_tensors="pt").to(rt.device))
    QUANTIZED = True
except (ImportError, RuntimeError, NotImplementedError, ValueError) as error:
    print(f"bitsandbytes cannot run 4-bit layers on this platform ({type(error).__name__}); falling back to plain LoRA.")
    base_model = load_base(quantized=False)
    QUANTIZED = False
print(type(base_model.model.layers[0].self_attn.q_proj).__name__, f"memory footprint {base_model.get_memory_footprint() / 1e6:.1f} MB")

# %% [markdown]
# ## 7. How good is the base model?
#
# Generation for evaluation is greedy, at most 48 new tokens, and stops at the end-of-turn token. Prompts are
# left-padded so that every row of the batch ends where generation starts.


# %%
def generate_sql(model, examples, batch_size: int = 64) -> list[str]:
    """Greedy SQL for each example, from the model's own chat template."""
    tokenizer.padding_side = "left"
    model.eval()
    outputs = []
    for i in range(0, len(examples), batch_size):
        batch = examples[i : i + batch_size]
        prompts = [
            tokenizer.apply_chat_template(sql.to_messages({"schema": e["schema"], "question": e["question"]}),
                                          tokenize=False, add_generation_prompt=True)
            for e in batch
        ]
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            generated = model.generate(
                **encoded,
                max_new_tokens=CFG["max_new_tokens"],
                do_sample=False,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = generated[:, encoded["input_ids"].shape[1] :]
        outputs += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return outputs


gold_sqls = [e["sql"] for e in test_examples]
t0 = time.perf_counter()
base_preds = generate_sql(base_model, test_examples)
base_acc = sql.execution_accuracy(base_preds, gold_sqls, DB_PATH)
print(f"base execution accuracy {base_acc:.2f}  ({time.perf_counter() - t0:.1f} s)")
print(repr(base_preds[0]))

# %% [markdown]
# ## 8. Training data: prompt–completion pairs
#
# TRL's `SFTTrainer` accepts *conversational prompt–completion* rows: `prompt` is the list of system and user
# messages, `completion` the assistant message. It renders both with the model's chat template and, because the
# data has a separate completion, sets `completion_only_loss`: the prompt tokens get no loss, so the model
# learns to *answer* rather than to write questions. Let us look at what the loss sees for one example.

# %%
def to_row(example: dict) -> dict:
    messages = sql.to_messages(example)
    return {"prompt": messages[:2], "completion": messages[2:]}


train_dataset = Dataset.from_list([to_row(e) for e in train_examples]).shuffle(seed=0)
print(train_dataset[0])
prompt_ids = tokenizer.apply_chat_template(train_dataset[0]["prompt"], add_generation_prompt=True, tokenize=True)
full_ids = tokenizer.apply_chat_template(train_dataset[0]["prompt"] + train_dataset[0]["completion"], tokenize=True)
prompt_ids = prompt_ids["input_ids"] if isinstance(prompt_ids, dict) else prompt_ids
full_ids = full_ids["input_ids"] if isinstance(full_ids, dict) else full_ids
print(f"{len(full_ids)} tokens, of which the last {len(full_ids) - len(prompt_ids)} carry the loss:")
print(repr(tokenizer.decode(full_ids[len(prompt_ids) :])))
assert full_ids[: len(prompt_ids)] == prompt_ids

# %% [markdown]
# ## 9. QLoRA training with `SFTTrainer`
#
# LoRA adds $W x + \frac{\alpha}{r} B A x$ with $A \in \mathbb{R}^{r \times d}$, $B \in \mathbb{R}^{d' \times r}$
# ($B$ starts at zero, so training starts from the base model). We put adapters on every attention projection
# (`q_proj`, `k_proj`, `v_proj`, `o_proj`) and every MLP projection (`gate_proj`, `up_proj`, `down_proj`): the
# QLoRA paper found that adapting all linear layers is what matches full fine-tuning.
#
# The optimizer is `paged_adamw_8bit`: Adam's two moments stored in 8 bits (blockwise quantized), in *paged*
# memory that can spill to CPU RAM when a long batch spikes GPU memory instead of crashing. (On a CPU there is
# nothing to page: bitsandbytes warns and uses the plain 8-bit optimizer.) Precision is set explicitly, because
# TRL configs may default to bf16, which a T4 does not have.

# %%
lora_config = LoraConfig(
    r=CFG["lora_r"],
    lora_alpha=2 * CFG["lora_r"],
    lora_dropout=0.0 if SMOKE else 0.05,
    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    task_type="CAUSAL_LM",
)
if QUANTIZED:
    base_model = prepare_model_for_kbit_training(base_model, use_gradient_checkpointing=True)
sft_config = SFTConfig(
    output_dir=str(WORKDIR / "run"),
    max_steps=CFG["max_steps"],
    per_device_train_batch_size=CFG["batch_size"],
    gradient_accumulation_steps=CFG["grad_accum"],
    learning_rate=CFG["learning_rate"],
    lr_scheduler_type="cosine",
    warmup_steps=CFG["max_steps"] // 10,
    optim="paged_adamw_8bit",
    gradient_checkpointing=True,
    max_length=CFG["max_length"],
    completion_only_loss=True,
    bf16=rt.dtype == torch.bfloat16,
    fp16=rt.dtype == torch.float16,
    use_cpu=rt.device.type == "cpu",
    logging_steps=max(1, CFG["max_steps"] // 10),
    save_strategy="steps",
    save_steps=CFG["max_steps"] // 4,  # keep an early adapter to swap with later
    save_only_model=True,
    report_to="none",
    seed=rt.seed,
    data_seed=rt.seed,
)
if rt.device.type == "cuda":
    torch.cuda.reset_peak_memory_stats()
trainer = SFTTrainer(
    model=base_model,
    args=sft_config,
    train_dataset=train_dataset,
    processing_class=tokenizer,
    peft_config=lora_config,
)
trainer.model.print_trainable_parameters()
t0 = time.perf_counter()
trainer.train()
train_seconds = time.perf_counter() - t0
losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
print(f"trained {CFG['max_steps']} steps in {train_seconds:.1f} s; loss {losses[0]:.2f} -> {losses[-1]:.2f}")
assert losses[-1] < 0.5 * losses[0], "the completion loss should fall a lot"

# %% [markdown]
# ## 10. Memory: prediction vs measurement
#
# What should the QLoRA run need? Count bytes per parameter:
#
# | what | bytes per parameter |
# | --- | --- |
# | frozen linear weights in NF4 + double-quantized scales | $0.5 + 0.127/8 \approx 0.516$ |
# | other frozen weights (embeddings, norms), cast to fp32 by `prepare_model_for_kbit_training` | 4 |
# | LoRA weights (fp32) + their gradients (fp32) + 8-bit Adam's two moments | $4 + 4 + 2 = 10$ |
#
# plus activations. With gradient checkpointing only each layer's input is kept
# ($L \cdot b \cdot s \cdot d$ values), but the logits are big: $b \cdot s \cdot V$ values in fp32, about three times
# over (logits, their softmax, their gradient). For Qwen2.5-0.5B, $V = 151{,}936$, so the logits dominate.

# %%
peft_model = trainer.model
lin4 = [m for m in peft_model.modules() if type(m).__name__ == "Linear4bit"]
n_quant = sum(m.in_features * m.out_features for m in lin4)
n_lora = sum(p.numel() for n, p in peft_model.named_parameters() if "lora_" in n)
n_other = sum(p.numel() for n, p in peft_model.named_parameters() if "lora_" not in n) - sum(
    m.weight.numel() for m in lin4
)
config = peft_model.config
tokens = CFG["batch_size"] * CFG["max_length"]
act_bytes = (config.num_hidden_layers * tokens * config.hidden_size * 4) + 3 * tokens * config.vocab_size * 4
predicted = n_quant * 0.516 + n_other * 4 + n_lora * 10 + act_bytes
print(f"quantized linear params {n_quant / 1e6:.2f}M, other {n_other / 1e6:.2f}M, LoRA {n_lora / 1e6:.3f}M")
print(f"predicted peak: {predicted / 2**20:.1f} MiB (weights {(n_quant * 0.516 + n_other * 4) / 2**20:.1f}, "
      f"LoRA + optimizer {n_lora * 10 / 2**20:.2f}, activations {act_bytes / 2**20:.1f})")
if rt.device.type == "cuda":
    measured = torch.cuda.max_memory_allocated()
    print(f"measured peak (torch.cuda.max_memory_allocated): {measured / 2**20:.1f} MiB, ratio {predicted / measured:.2f}")
else:
    print("measured peak: not available on CPU (torch.cuda.max_memory_allocated needs a CUDA GPU); run the full tier")
assert predicted > 0 and n_lora < 0.2 * (n_quant + n_other)

# %% [markdown]
# ## 11. Base vs tuned: execution accuracy

# %%
t0 = time.perf_counter()
tuned_preds = generate_sql(peft_model, test_examples)
tuned_acc = sql.execution_accuracy(tuned_preds, gold_sqls, DB_PATH)
print(f"execution accuracy: base {base_acc:.2f}, tuned {tuned_acc:.2f}  ({time.perf_counter() - t0:.1f} s)")
table = pd.DataFrame(
    {
        "question": [e["question"] for e in test_examples],
        "base": base_preds,
        "tuned": tuned_preds,
        "tuned correct": [sql.execution_match(p, g, DB_PATH) for p, g in zip(tuned_preds, gold_sqls)],
    }
)
table.head(8)

# %%
assert tuned_acc - base_acc >= CFG["min_gain"], f"tuned {tuned_acc:.2f} does not beat base {base_acc:.2f} by enough"
assert hashlib.sha256(DB_PATH.read_bytes()).hexdigest() == db_hash

# %% [markdown]
# ## 12. Adapters: save, reload, merge, swap
#
# The adapter is a few hundred kilobytes (a few MB for the 0.5B model), not a copy of the model. To use it later,
# load the base model and attach the *trained* adapter with `PeftModel.from_pretrained` (never a fresh, untrained
# `get_peft_model`, which would start from $B = 0$, i.e. the base model).

# %%
adapter_dir = WORKDIR / "adapter-final"
peft_model.save_pretrained(adapter_dir)
print(sorted(p.name for p in adapter_dir.iterdir()), f"{sum(p.stat().st_size for p in adapter_dir.iterdir()) / 1e3:.0f} kB")

reloaded = PeftModel.from_pretrained(load_base(quantized=QUANTIZED), adapter_dir)
reloaded_preds = generate_sql(reloaded, test_examples)
assert reloaded_preds == tuned_preds, "the reloaded adapter should answer exactly like the trained one"
print("reloaded adapter answers identically")

# %% [markdown]
# **Merging** folds $\frac{\alpha}{r} B A$ into $W$, so inference costs nothing extra and needs no `peft`. Merging
# into 4-bit weights would re-quantize them, so we merge into the base model in the compute dtype and check that
# merged and unmerged models (same base) give the same logits and the same SQL.

# %%
unmerged = PeftModel.from_pretrained(load_base(quantized=False), adapter_dir)
probe = tokenizer(sql.format_prompt(test_examples[0], "chatml"), return_tensors="pt").to(rt.device)
with torch.no_grad():
    logits_unmerged = unmerged(**probe).logits
unmerged_preds = generate_sql(unmerged, test_examples)
merged = unmerged.merge_and_unload()
with torch.no_grad():
    logits_merged = merged(**probe).logits
merged_preds = generate_sql(merged, test_examples)
print(type(merged).__name__, "max |logit difference|", (logits_merged - logits_unmerged).abs().max().item())
assert torch.allclose(logits_merged, logits_unmerged, atol=1e-3 if rt.dtype == torch.float32 else 5e-2)
assert merged_preds == unmerged_preds
merged_acc = sql.execution_accuracy(merged_preds, gold_sqls, DB_PATH)
print(f"merged model execution accuracy {merged_acc:.2f} (the 4-bit QLoRA model: {tuned_acc:.2f})")

# %% [markdown]
# **Swapping**: one base model can carry several adapters and switch between them in place, e.g. one per customer or
# per task. The trainer saved an early checkpoint a quarter of the way through; load it next to the final adapter and
# switch with `set_adapter`. `disable_adapter()` gives back the base model.

# %%
early_dir = WORKDIR / "run" / f"checkpoint-{CFG['max_steps'] // 4}"
swap = PeftModel.from_pretrained(load_base(quantized=QUANTIZED), adapter_dir, adapter_name="final")
swap.load_adapter(early_dir, adapter_name="early")
subset = test_examples[:18]
scores = {}
for name in ("early", "final"):
    swap.set_adapter(name)
    scores[name] = sql.execution_accuracy(generate_sql(swap, subset), gold_sqls[:18], DB_PATH)
with swap.disable_adapter():
    scores["none (base)"] = sql.execution_accuracy(generate_sql(swap, subset), gold_sqls[:18], DB_PATH)
print(scores)
assert scores["final"] > scores["none (base)"]
assert abs(scores["final"] - sql.execution_accuracy(tuned_preds[:18], gold_sqls[:18], DB_PATH)) < 1e-9

# %% [markdown]
# ## 13. Exercise: be the model
#
# Write the SQL for the question below against the shop database (tables `customers`, `products`, `orders`). The
# check runs your query in the sandbox and compares its rows with the gold answer.

# %%
print(sql.EXERCISE_QUESTION)
my_sql = "SELECT ..."  # your query here
sql.check_sql_exercise(my_sql, DB_PATH)

# %% jupyter={"source_hidden": true}
# Solution
solution = (
    "SELECT SUM(p.price * o.quantity) FROM orders o "
    "JOIN customers c ON o.customer_id = c.id JOIN products p ON o.product_id = p.id "
    "WHERE c.city = 'Paris'"
)
assert sql.check_sql_exercise(solution, DB_PATH)

# %% [markdown]
# ## Summary
#
# - Instruction tuning is supervised fine-tuning on formatted (instruction, input, response) examples, with the loss
#   on the response; the prompt format must be the model's own (`apply_chat_template`).
# - QLoRA = a 4-bit NF4 frozen base (double-quantized scales) + LoRA adapters on all linear layers + a paged 8-bit
#   optimizer + gradient checkpointing; it fits a 0.5B model's fine-tuning on a T4 with room to spare.
# - Execution accuracy in a read-only sandbox grades SQL by what it returns, and is safe against what it might do.
# - Adapters are small files: reload them onto the base model, merge them for deployment, or swap them in place.
#
# Next: 3.4 aligns a model with human preferences (reward model, PPO, DPO).
