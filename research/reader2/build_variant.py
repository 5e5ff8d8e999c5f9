"""Build `reader.build` with RECIPE/MIXTURE/module overrides into /tmp/reader2-research/NAME; print its process CPU s.

OMP_NUM_THREADS=1 PYTHONPATH=. LLM_WORKSHOP_CACHE=build/cache python research/reader2/build_variant.py NAME '{json}'
"""

import json
import sys
import time
from pathlib import Path

import torch

from llm_workshop import models
from llm_workshop.standins import reader

torch.set_num_threads(1)
name, over = sys.argv[1], json.loads(sys.argv[2])
for key, value in over.items():
    if key in ("MAX_WORDS", "MAX_PASSAGES"):
        setattr(reader, key, value)
    else:
        (reader.MIXTURE if key in reader.MIXTURE else reader.RECIPE)[key] = value
out = Path(f"/tmp/reader2-research/{name}")
start = time.process_time()
reader.build(out, models.smoke_path("instruct"))
print(json.dumps({"name": name, "over": over, "cpu_s": round(time.process_time() - start, 1)}))
