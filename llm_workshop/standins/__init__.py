"""Smoke stand-ins: how each tiny local model is built and pre-trained, one module per model (never imported by
concepts); `llm_workshop.models` builds them into the cache on first use."""
