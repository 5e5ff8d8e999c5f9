"""Exercise graders, one module per notebook (m1_4 is notebook 1.4)."""
