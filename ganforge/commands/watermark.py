"""Invisible keyed watermarks (docs/PROVENANCE.md): check images for a key's mark, or mark images.

`ganforge sample --watermark KEY` and `ganforge serve --watermark KEY` mark what they produce; this
command verifies (and marks images made elsewhere). The key may be given as env:NAME to read it from
an environment variable. An image counts as marked when enough of its payload bits match that an
unmarked image would do so with probability at most 1e-5.

examples:
  ganforge sample runs/dcgan -n 100 --out marked/ --watermark env:WM_KEY
  ganforge watermark verify marked/ --key env:WM_KEY --out report.json
  ganforge watermark verify upscaled.png --key env:WM_KEY --size 28     # resized copies: the generated size
  ganforge watermark embed photos/ --key env:WM_KEY --out marked/
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError

HELP = "verify (or embed) invisible keyed watermarks in images"


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    v = sub.add_parser("verify", help="report, per image, the payload bits recovered and whether the mark is there")
    v.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    v.add_argument("--key", required=True, help="the watermark key (or env:NAME)")
    v.add_argument("--size", type=int, default=None, help="resize to SIZE x SIZE first (the generated size)")
    v.add_argument("--out", default=None, help="write the per-image report to this .json or .csv file")
    e = sub.add_parser("embed", help="mark image files with a key (PNG out: lossless)")
    e.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    e.add_argument("--key", required=True, help="the watermark key (or env:NAME)")
    e.add_argument("--out", required=True, help="folder for the marked PNGs")


def verify_files(files: list[Path], key: str, size: int | None = None) -> list[dict]:
    from ganforge.provenance.files import read_rgb
    from ganforge.provenance.watermark import Watermark

    images = [read_rgb(f, size) for f in files]
    rows: list[dict] = [{} for _ in files]
    for shape in sorted({im.shape for im in images}):  # one set of carriers per image size
        index = [i for i, im in enumerate(images) if im.shape == shape]
        mark = Watermark(key, shape[1], shape[2])
        result = mark.verify(np.stack([images[i] for i in index]))
        for j, i in enumerate(index):
            rows[i] = {"file": str(files[i]), "size": f"{shape[2]}x{shape[1]}", "bits": mark.bits,
                       "bit_accuracy": round(float(result["bit_accuracy"][j]), 4),
                       "watermarked": bool(result["detected"][j])}
    return rows


def write_report(rows: list[dict], out: Path) -> None:
    from ganforge.utils.files import atomic_write_text

    if out.suffix.lower() == ".csv":
        import pandas as pd

        atomic_write_text(out, pd.DataFrame(rows).to_csv(index=False))
    else:
        atomic_write_text(out, json.dumps(rows, indent=1) + "\n")


def run(args) -> int:
    from ganforge.provenance.files import image_files, read_rgb, resolve_key

    key = resolve_key(args.key)
    if args.action == "embed":
        from PIL import Image

        from ganforge.provenance.watermark import embed
        from ganforge.utils.files import ensure_writable_dir

        out = Path(args.out)
        ensure_writable_dir(out, "--out folder")
        files = image_files(args.images)
        for f in files:
            marked = embed(read_rgb(f)[None], key)[0]
            grey = (marked[0] == marked[1]).all() and (marked[1] == marked[2]).all()  # grey in, grey out
            Image.fromarray(marked[0] if grey else marked.transpose(1, 2, 0)).save(out / f"{f.stem}.png")
        print(f"marked {len(files)} images into {out}")
        return 0
    if args.size is not None and not 8 <= args.size <= 4096:
        raise GanforgeError(f"--size {args.size} must be between 8 and 4096.")
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".json", ".csv"):
        raise GanforgeError(f"--out {out} must end in .json or .csv.")
    rows = verify_files(image_files(args.images), key, args.size)
    if out is not None:
        write_report(rows, out)
    else:
        for r in rows:
            print(f"{r['file']}\t{'watermarked' if r['watermarked'] else 'not watermarked'}\t"
                  f"bits {r['bit_accuracy']:.1%} of {r['bits']}")
    marked = sum(r["watermarked"] for r in rows)
    print(f"{marked} of {len(rows)} images carry the mark of this key")
    return 0
