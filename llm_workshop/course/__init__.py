"""Course machinery: run tiers and devices, the corpus, the smoke cache, plots, timing, exercise verdicts."""
