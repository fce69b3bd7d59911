"""Reporters: one module per format, all rendering the same `RunSummary` (see `outcomes.py`)."""
