"""Helper package for the llm_workshop course: shared code and from-scratch references."""

__version__ = "0.1.0"
