"""User-facing errors.

A ``GanforgeError`` is a problem with what the user gave us (a path, a value, a file). The CLI
prints its message alone (no traceback unless ``--debug``) and exits with code 2. Messages name
the problem *and* the fix.
"""


class GanforgeError(Exception):
    """A problem with user input; the message says what is wrong and how to fix it."""

    exit_code = 2


class CheckpointError(GanforgeError):
    """A checkpoint is missing, truncated, tampered with, or from an incompatible run."""


class DivergenceError(GanforgeError):
    """Training diverged (NaN/Inf or exploding gradients) and could not be rolled back."""
