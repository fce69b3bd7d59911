"""What tests of several directories share (helpers, not fixtures: those live in conftest.py)."""
