"""Diagrams the notebooks draw: matplotlib, imported only when a figure is drawn."""

from __future__ import annotations


def plot_rlhf_steps(ax=None):
    """Draw InstructGPT's three steps (SFT, reward model, RL with a KL leash) as boxes and arrows."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(12, 4.2))
    ax.set(xlim=(0, 12), ylim=(0, 4.6))
    ax.axis("off")
    columns = [
        ("1. Supervised fine-tuning", "#dbeafe", ["prompts + human\ndemonstrations", "pre-trained LM\n-> SFT model"]),
        (
            "2. Reward model",
            "#fef3c7",
            ["prompt, completion A vs B:\nwhich is better?", "RM(prompt, completion)\n-> a score"],
        ),
        (
            "3. RL (PPO)",
            "#dcfce7",
            ["policy samples completions,\nRM scores them", "update policy;\nKL leash to SFT model"],
        ),
    ]
    for i, (title, color, boxes) in enumerate(columns):
        x = 0.3 + 4 * i
        ax.text(x + 1.7, 4.35, title, ha="center", va="center", fontsize=12, weight="bold")
        for j, text in enumerate(boxes):
            y = 2.6 - 2.0 * j
            ax.add_patch(FancyBboxPatch((x, y), 3.4, 1.3, boxstyle="round,pad=0.05", fc=color, ec="0.3"))
            ax.text(x + 1.7, y + 0.65, text, ha="center", va="center", fontsize=10)
        ax.add_patch(FancyArrowPatch((x + 1.7, 2.6), (x + 1.7, 1.95), arrowstyle="-|>", mutation_scale=15))
        if i < 2:
            ax.add_patch(
                FancyArrowPatch((x + 3.45, 1.25), (x + 3.95, 1.25), arrowstyle="-|>", mutation_scale=15, lw=1.5)
            )
    ax.set_title("RLHF in three steps (after InstructGPT, Ouyang et al. 2022)", fontsize=12)
    return ax
