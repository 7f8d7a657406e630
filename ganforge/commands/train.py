"""Train a GAN. With no arguments: a DCGAN on scikit-learn's bundled 8x8 digits (no download).

examples:
  ganforge train
  ganforge train --recipe dcgan --data fashion-mnist --data-dir DATA --image-size 32 --steps 5000 --out runs/fm
  ganforge train --config my.yaml --lr-d 4e-4
  ganforge train --resume runs/fm --steps 8000      # continue (exactly) and extend

The run folder gets config.yaml, checkpoints/, metrics.jsonl, samples/, loss.png and samples.png.
"""
from __future__ import annotations

from pathlib import Path

from ganforge.commands.common import add_config_flags, check_device, config_overrides
from ganforge.config import load_config, read_yaml, make_config
from ganforge.errors import GanforgeError
from ganforge.utils.files import ensure_writable_dir

HELP = "train a GAN (default: DCGAN on the bundled digits)"


def add_arguments(p):
    p.add_argument("--config", metavar="YAML", help="YAML file of config keys (only what differs from the defaults)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its latest checkpoint")
    add_config_flags(p)


def resolve_config(args):
    overrides = config_overrides(args)
    if args.resume:
        run = Path(args.resume)
        if not (run / "config.yaml").is_file():
            raise GanforgeError(f"{run} is not a ganforge run folder (no config.yaml); pass the folder given to --out.")
        layers = [read_yaml(run / "config.yaml")]
        if args.config:
            layers.append(read_yaml(args.config))
        return make_config(*layers, {**overrides, "out": str(run)})
    return load_config(args.config, overrides)


def run_folder(cfg) -> Path:
    """Where the run goes: --out, else runs/<recipe>-<data> (the Trainer's default)."""
    return Path(cfg.out or f"runs/{cfg.recipe}-{cfg.data}")


def run(args) -> int:
    import signal
    import sys

    from ganforge.train.trainer import Trainer

    from ganforge.metrics.callback import evaluation_callbacks

    cfg = resolve_config(args)
    # Before any work (data, networks): a wrong name, then an uncreatable/unwritable run folder (whose
    # default name holds the recipe's and the dataset's) are one line, exit 2.
    from ganforge.data import DATASETS
    from ganforge.recipes import RECIPES

    RECIPES.get(cfg.recipe)
    DATASETS.get(cfg.data)
    ensure_writable_dir(run_folder(cfg), "run folder")
    check_device(cfg.device)
    trainer = Trainer(cfg, resume=bool(args.resume), extra_callbacks=evaluation_callbacks(cfg))
    run_dir = trainer.fit()
    if trainer.stop_signal is not None:
        # Stopped by SIGINT/SIGTERM after saving a checkpoint: exit 128 + signal (130, 143), the shell's
        # convention, so `ganforge train ... && next-step` does not carry on with an unfinished model.
        print(f"ganforge: {signal.Signals(trainer.stop_signal).name} at step {trainer.step}: checkpoint saved; "
              f"continue with `ganforge train --resume {run_dir}`", file=sys.stderr)
        return 128 + trainer.stop_signal
    print(f"run folder: {run_dir}  (samples: {Path(run_dir) / 'samples.png'})")
    return 0
