"""Scoring results against ground truth: shots, intros."""
