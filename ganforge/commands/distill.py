"""Distil a trained generator into a narrower student of the same architecture (docs/ADAPT.md).

The student (generator width --width) learns to reproduce the teacher's images on the teacher's own
latents: an L1 pixel loss, an L1 loss on the teacher discriminator's block features and, with
--adversarial W, a non-saturating term from a discriminator fine-tuned on teacher vs student images.
No training data is needed. The student is a normal run folder: sample, export, serve it.

examples:
  ganforge distill runs/dcgan-fm --width 16 --out runs/dcgan-fm-w16
  ganforge distill runs/dcgan-fm --width 16 --steps 4000 --adversarial 0.05 --out runs/small
  ganforge export runs/dcgan-fm-w16 --format onnx --out small.onnx
"""
from __future__ import annotations

HELP = "distil a generator into a smaller student (a normal run folder)"


def add_arguments(p):
    p.add_argument("run", metavar="RUN", help="the teacher: a run folder or checkpoint")
    p.add_argument("--width", type=int, required=True, help="the student's generator width (g_width)")
    p.add_argument("--out", required=True, metavar="RUN2", help="run folder for the student")
    p.add_argument("--steps", type=int, default=2000, help="training steps [default: 2000]")
    p.add_argument("--batch-size", type=int, default=64, help="[default: 64]")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate [default: 1e-3]")
    p.add_argument("--pixel", type=float, default=1.0, help="weight of the L1 pixel loss [default: 1]")
    p.add_argument("--feature", type=float, default=1.0, help="weight of the teacher-D feature loss [default: 1]")
    p.add_argument("--adversarial", type=float, default=0.0, help="weight of the adversarial term [default: 0, off]")
    p.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from ganforge.commands.common import check_seed
    from ganforge.distillation import distill
    from ganforge.errors import GanforgeError

    check_seed(args.seed)
    if not 1 <= args.steps <= 10_000_000 or not 1 <= args.batch_size <= 65536:
        raise GanforgeError("--steps and --batch-size must be positive (at most 10000000 and 65536).")
    if not 0 < args.lr <= 1:
        raise GanforgeError(f"--lr {args.lr} must be in (0, 1].")
    out = distill(args.run, args.width, args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                  pixel=args.pixel, feature=args.feature, adversarial=args.adversarial, seed=args.seed, log=print)
    print(f"student run folder: {out}")
    return 0
