"""Build every smoke stand-in twice from an empty cache, by processes started with 1 CPU thread and with 2
(OMP_NUM_THREADS), and compare the files: the weights must be the same to the byte (`make check-determinism`).

Builds run on one thread inside `models.smoke_path` whatever the caller has, so the core count cannot change them;
this checks it for every stand-in at once (tests/test_models.py checks two on every `make test`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BUILD = "from llm_workshop import models; models.build_all(jobs=1)"


def digests(cache: Path) -> dict[str, str]:
    """sha256 of every file in every stand-in directory of `cache` (sub-folders such as the encoder's 1_Pooling/
    included), by 'stand-in/file' without the cache key."""
    out = {}
    for folder in sorted(cache.glob("smoke-*")):
        name = folder.name.rsplit("-", 1)[0]
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            out[f"{name}/{path.relative_to(folder).as_posix()}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for threads in (1, 2):
            cache = Path(tmp) / f"threads-{threads}"
            env = {**os.environ, "LLM_WORKSHOP_CACHE": str(cache), "OMP_NUM_THREADS": str(threads)}
            subprocess.run([sys.executable, "-c", BUILD], check=True, env=env)  # the build process inherits it
            results[threads] = digests(cache)
    differ = sorted(f for f in results[1] if results[1][f] != results[2].get(f))
    for name in sorted(results[1]):
        if name.endswith(".safetensors"):
            print(f"{name:55} {'same' if name not in differ else 'DIFFERENT'}")
    if differ or results[1].keys() != results[2].keys():
        print(f"weights differ with the core count: {', '.join(differ) or 'other files'}")
        return 1
    print(f"all {len(results[1])} files of every stand-in are the same with 1 and 2 threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
