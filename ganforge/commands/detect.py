"""Detect generated images (docs/PROVENANCE.md): train a detector on real vs generated images, then score images.

`detect train` takes real images (a folder) and generated ones (run folders, which are sampled, or
folders of images; --fake may repeat) and trains a small CNN on pixels and on the log-magnitude
spectrum (Frank et al. 2020; Wang et al. 2020). It holds out 20% to report accuracy and ROC AUC and
writes DET/detector.safetensors + DET/detector.json. `detect score` prints, or writes as .json /
.csv, each image's probability of being generated (above 0.5: called generated).

examples:
  ganforge detect train --real photos/ --fake runs/dcgan --fake runs/lsgan --out det/
  ganforge detect score det/ incoming/ --out scores.csv
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError

HELP = "train a detector of generated images, or score images with one"
MAX_IMAGES = 200_000


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = sub.add_parser("train", help="train a detector on real vs generated images")
    t.add_argument("--real", required=True, nargs="+", metavar="DIR", help="real images: folders or files")
    t.add_argument("--fake", required=True, action="append", metavar="RUN_OR_DIR",
                   help="generated images: a run folder (sampled) or a folder of images; repeat for several")
    t.add_argument("--out", required=True, metavar="DET", help="folder for the detector")
    t.add_argument("--samples", type=int, default=None, help="images drawn from each run [default: as many as real]")
    t.add_argument("--size", type=int, default=None, help="detector input size [default: the images' size]")
    t.add_argument("--steps", type=int, default=600, help="training steps [default: 600]")
    t.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("score", help="probability that each image is generated")
    s.add_argument("detector", metavar="DET")
    s.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    s.add_argument("--out", default=None, help="write the scores to this .json or .csv file")


def is_run(path: Path) -> bool:
    return (path / "config.yaml").is_file() or (path / "checkpoints").is_dir() or path.suffix == ".json"


def read_folder(specs: list[str], size: int | None) -> tuple[list[Path], np.ndarray]:
    """Images as uint8 (n, c, size, size): grey (c=1) when every image is grey, else RGB."""
    from ganforge.provenance.files import image_files, read_rgb

    files = image_files(specs)[:MAX_IMAGES]
    first = read_rgb(files[0], size)
    size = size or first.shape[-1]
    images = np.stack([read_rgb(f, size) for f in files])
    grey = (images[:, :1] == images[:, 1:]).all()
    return files, images[:, :1] if grey else images


def generated(spec: str, n: int, size: int | None, seed: int) -> np.ndarray:
    import ganforge

    path = Path(spec)
    if not path.exists():
        raise GanforgeError(f"--fake {path} does not exist; pass a run folder or a folder of generated images.")
    if not is_run(path):
        return read_folder([spec], size)[1]
    gen = ganforge.load(path)
    if gen.dataset.kind != "image" or gen.recipe.task not in ("noise", "class"):
        raise GanforgeError(f"--fake {path} is not a run that samples images from noise; pass a folder of its images.")
    return gen.decode(gen.sample(n, seed=seed)).numpy()


def run(args) -> int:
    from ganforge.provenance.detect import save_detector, train_detector
    from ganforge.utils.files import ensure_writable_dir

    if args.action == "score":
        return score(args)
    if args.size is not None and not 8 <= args.size <= 512:
        raise GanforgeError(f"--size {args.size} must be between 8 and 512.")
    if not 1 <= args.steps <= 1_000_000:
        raise GanforgeError(f"--steps {args.steps} must be between 1 and 1000000.")
    ensure_writable_dir(Path(args.out), "--out folder")
    _, real = read_folder(args.real, args.size)
    size = args.size or real.shape[-1]
    n = args.samples or len(real)
    fakes = [generated(spec, n, size, args.seed + i) for i, spec in enumerate(args.fake)]
    det, record = train_detector(real, fakes, size=size, steps=args.steps, seed=args.seed, log=print)
    record["sources"] = {"real": args.real, "fake": args.fake}
    save_detector(det, args.out, record)
    v = record["validation"]
    print(f"detector: {args.out}  held-out accuracy {v['accuracy']:.3f}, AUC {v['auc']:.3f} ({v['images']} images)")
    return 0


def score(args) -> int:
    from ganforge.commands.watermark import write_report
    from ganforge.provenance.detect import load_detector, score_images
    from ganforge.provenance.files import image_files, read_rgb

    det, _ = load_detector(args.detector)
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".json", ".csv"):
        raise GanforgeError(f"--out {out} must end in .json or .csv.")
    files = image_files(args.images)
    rows = []
    for start in range(0, len(files), 256):
        chunk = files[start:start + 256]
        probs = score_images(det, np.stack([read_rgb(f, det.spec.size) for f in chunk]))
        rows += [{"file": str(f), "p_generated": round(float(p), 5), "generated": bool(p > 0.5)}
                 for f, p in zip(chunk, probs)]
    if out is not None:
        write_report(rows, out)
    else:
        for r in rows:
            print(f"{r['file']}\t{r['p_generated']:.4f}\t{'generated' if r['generated'] else 'real'}")
    print(f"{sum(r['generated'] for r in rows)} of {len(rows)} images scored as generated")
    return 0
