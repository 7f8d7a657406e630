"""Training: the generic loop, checkpoints, EMA, callbacks, distributed helpers."""
