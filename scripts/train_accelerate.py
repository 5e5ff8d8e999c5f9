"""Fine-tune a causal LM on the course corpus with Hugging Face Accelerate: one script for 1 GPU, DDP, FSDP or CPU.

    python scripts/train_accelerate.py --steps 20                        # one process
    accelerate launch --config_file scripts/accelerate/multi_gpu_ddp.yaml scripts/train_accelerate.py
    torchrun --nproc_per_node 2 scripts/train_accelerate.py --cpu        # two CPU ranks (gloo)

Each rank writes `<out>/rank<N>.json` with its first/last loss and a checksum of its final weights,
so you can see that data-parallel ranks end with identical weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from llm_workshop import models
from llm_workshop.course import data  # noqa: E402


def weights_checksum(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in name order: equal checksums mean equal weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def token_blocks(tokenizer, seq_len: int) -> torch.Tensor:
    """The corpus tokenized and cut into non-overlapping blocks of `seq_len` tokens."""
    ids = torch.tensor(tokenizer(data.load_corpus())["input_ids"])
    n_blocks = len(ids) // seq_len
    return ids[: n_blocks * seq_len].view(n_blocks, seq_len)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt2", help="registry name, e.g. gpt2")
    parser.add_argument("--tier", default="smoke", choices=["smoke", "full"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8, help="per process")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu", action="store_true", help="force CPU (gloo backend)")
    parser.add_argument("--out", default="build/accelerate", help="directory for the per-rank reports")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1 or args.seq_len < 2:
        parser.error("--steps and --batch-size must be >= 1 and --seq-len >= 2")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    accelerator = Accelerator(cpu=args.cpu)
    set_seed(args.seed)
    with accelerator.main_process_first():  # rank 0 builds the smoke model into the cache, the others reuse it
        model, tokenizer = models.load(args.model, args.tier)
    blocks = token_blocks(tokenizer, args.seq_len)
    loader = torch.utils.data.DataLoader(blocks, batch_size=args.batch_size, shuffle=True, drop_last=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)

    model.train()
    losses: list[float] = []
    batches = iter(loader)
    for _ in range(args.steps):
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(loader)
            batch = next(batches)
        loss = model(input_ids=batch, labels=batch).loss
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(accelerator.gather(loss.detach()).mean().item())  # the mean over all ranks

    accelerator.wait_for_everyone()
    report = {
        "rank": accelerator.process_index,
        "world_size": accelerator.num_processes,
        "distributed_type": str(accelerator.distributed_type),
        "first_loss": losses[0],
        "last_loss": sum(losses[-5:]) / len(losses[-5:]),
        "checksum": weights_checksum(accelerator.unwrap_model(model)),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{accelerator.process_index}.json").write_text(json.dumps(report, indent=2))
    accelerator.print(
        f"{accelerator.num_processes} process(es), {report['distributed_type']}: "
        f"loss {report['first_loss']:.3f} -> {report['last_loss']:.3f}"
    )


if __name__ == "__main__":
    main()
