"""Prepare datasets. ``pack``: resize an image folder once into a zip or a sharded folder with a JSON
index (as StyleGAN's dataset_tool), which ``--data packed`` streams from disk while training.

examples:
  ganforge data pack photos/ photos-256.zip --size 256
  ganforge data pack emoji/openmoji/color openmoji-64.zip --size 64 \\
      --labels emoji/openmoji/metadata.csv --label-column group
  ganforge train --recipe biggan --data packed --data-dir openmoji-64.zip
"""
from __future__ import annotations

HELP = "prepare datasets: pack an image folder into a streamable zip / sharded folder"


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    pack = sub.add_parser("pack", help="resize images once into OUT (.zip or a folder) with a dataset.json index",
                          description=__doc__.split("\n\n")[0])
    pack.add_argument("src", metavar="SRC", help="image folder (class sub-folders = classes)")
    pack.add_argument("out", metavar="OUT", help="OUT.zip for a zip, else a folder of 1000-image shards")
    pack.add_argument("--size", type=int, required=True, help="side of the square images (center-cropped, resized)")
    pack.add_argument("--labels", metavar="CSV", default=None, help="table naming the images (and their classes)")
    pack.add_argument("--file-column", default="file", help="CSV column of image paths under SRC [default: file]")
    pack.add_argument("--label-column", default=None, help="CSV column of class names (none: unlabelled)")
    pack.add_argument("--color", default="auto", help="auto, rgb or grayscale [default: auto]")


def run(args) -> int:
    from ganforge.data.packed import pack

    index = pack(args.src, args.out, args.size, args.labels, args.file_column, args.label_column, args.color)
    classes = f", {len(index['class_names'])} classes" if index["class_names"] else ", unlabelled"
    print(f"packed {index['count']} images at {index['size']}x{index['size']}x{index['channels']}{classes} "
          f"into {args.out}")
    return 0
