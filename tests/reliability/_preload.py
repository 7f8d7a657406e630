"""Imported once by the fork server of the crash-safety workers (see workers.py): everything a worker
would otherwise import again after each fork. Runs no parallel torch op, so forking stays safe."""
import torch

torch.set_num_threads(1)

import torch._inductor  # noqa: E402,F401  (torch.use_deterministic_algorithms imports it on first use: 2-10 s)

import ganforge.train.trainer  # noqa: E402,F401  (recipes, datasets, nets)
from ganforge.cli import build_parser  # noqa: E402
from ganforge.utils.plots import _pyplot  # noqa: E402

build_parser()  # imports every command module
_pyplot()
