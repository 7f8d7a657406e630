"""Draw samples from a trained generator (a run folder or a checkpoint file).

The output's form follows --out: NAME.png (a grid), NAME.npz (arrays x, y in the data's own
form), NAME.csv (tables), or a folder (one PNG per image).

examples:
  ganforge sample runs/dcgan-digits -n 64 --out grid.png
  ganforge sample runs/cgan-mnist --class 3 -n 100 --out threes/
  ganforge sample runs/tab -n 10000 --out synth.csv
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.utils.files import atomic_write

HELP = "sample a trained generator to a PNG grid, a folder of PNGs, .npz or .csv"
MAX_SAMPLES = 10_000_000


def add_arguments(p):
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("-n", "--num", type=int, default=64, help="number of samples [default: 64]")
    p.add_argument("--seed", type=int, default=0, help="sampling seed [default: 0]")
    p.add_argument("--class", dest="label", type=int, default=None, help="class to generate (conditional recipes)")
    p.add_argument("--out", default="samples.png", help="output: .png grid, .npz, .csv, or a folder [default: samples.png]")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.add_argument("--device", default="cpu")


def run(args) -> int:
    import ganforge

    if not 1 <= args.num <= MAX_SAMPLES:
        raise GanforgeError(f"-n must be between 1 and {MAX_SAMPLES}, got {args.num}.")
    gen = ganforge.load(args.run, device=args.device)
    if Path(args.out).suffix.lower() == ".csv" and hasattr(gen.recipe, "sample_frame"):
        # tables (tabular-gan): rows distributed like the data, decoded to the original columns and dtypes
        table = gen.recipe.sample_frame(args.num, seed=args.seed, label=args.label)
        atomic_write(Path(args.out), lambda tmp: table.to_csv(tmp, index=False))
        print(f"wrote {args.num} rows to {args.out}")
        return 0
    x, y = gen.sample_with_labels(args.num, seed=args.seed, labels=args.label)
    out = Path(args.out)
    data = gen.dataset
    suffix = out.suffix.lower()
    if suffix == ".csv":
        table = data.decode(x, y) if hasattr(data, "transform") else data.decode(x)  # tables decode their labels
        if not hasattr(table, "to_csv"):
            raise GanforgeError("--out .csv is for tabular runs; use .png, .npz or a folder for this run.")
        if y is not None and getattr(data, "target", None) and data.target not in table:
            table[data.target] = y.numpy()
        atomic_write(out, lambda tmp: table.to_csv(tmp, index=False))
    elif suffix == ".npz":
        arrays = {"x": data.from_model(x).numpy()}
        if y is not None:
            arrays["y"] = y.numpy()
        atomic_write(out, lambda tmp: np.savez_compressed(open(tmp, "wb"), **arrays))
    elif suffix == ".png":
        if data.kind != "image":
            raise GanforgeError("this run generates vectors, not images; use --out NAME.npz or NAME.csv.")
        from ganforge.utils.images import save_grid

        save_grid(data.from_model(x), out, nrow=args.nrow)
    elif suffix == "":
        if data.kind != "image":
            raise GanforgeError("this run generates vectors, not images; use --out NAME.npz or NAME.csv.")
        from ganforge.utils.images import save_png

        out.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(data.from_model(x)):
            save_png(image, out / f"{i:06d}.png")
    else:
        raise GanforgeError(f"unknown output type {out.suffix!r}; use .png, .npz, .csv or a folder name.")
    print(f"wrote {args.num} samples to {out}")
    return 0
