"""Concepts: what a learner reads, each written from scratch and checked against the library that does it for real."""
