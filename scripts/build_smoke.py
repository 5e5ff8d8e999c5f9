"""Build every smoke stand-in the cache lacks, `--jobs` at a time, each on one CPU thread; print what it took.

`make test` and `make run` call it first, so the suite and the notebooks find the stand-ins built. Without it the
first notebook or test that needs a stand-in builds it alone, on one core.
"""

from __future__ import annotations

import argparse
import time

from llm_workshop import models
from llm_workshop.course.cache import cache_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="builds at once (default 2)")
    parser.add_argument("names", nargs="*", help=f"stand-ins to build (default all: {', '.join(models.REGISTRY)})")
    args = parser.parse_args()
    start = time.perf_counter()
    models.build_all(args.names or None, jobs=args.jobs)
    print(f"smoke stand-ins ready in {cache_dir()} ({time.perf_counter() - start:.1f} s, {args.jobs} at a time)")


if __name__ == "__main__":
    main()
