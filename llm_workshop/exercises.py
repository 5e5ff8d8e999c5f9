"""The verdict every `check_...` exercise function prints: right, or not yet with a hint.

Checks never raise, so a notebook with an unsolved exercise still runs top to bottom; the hidden
solution cell right after asserts that its own answer passes.
"""


def verdict(ok: bool, hint: str = "") -> bool:
    """Print a one-line verdict for a learner's answer and return whether it was right."""
    print("✅ Correct!" if ok else f"❌ Not yet. {hint}".rstrip())
    return ok
