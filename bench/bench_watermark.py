"""Watermark benchmark: payload, PSNR, bit accuracy and detection rate after common edits, per image size.

Images: Fashion-MNIST test images (28x28 grey), Twemoji at 32x32 and 64x64 (RGB); 200 of each
(--generated RUN: a run's samples instead of Fashion-MNIST). Edits: JPEG q90/75/50; resizing down by
0.75 / 0.5 and back (bilinear; verified at the original size); enlarging x2 (bilinear; verified with
--size, i.e. resized back); a centre crop of 90% resized back to the original size; and the same
images unmarked or read with a wrong key (the false positives). Writes bench/results/watermark.json.

    nice -n 10 python bench/bench_watermark.py
"""
from __future__ import annotations

import io
import json
import sys
import time

import numpy as np
from PIL import Image

from adapt_common import DATA_DIR, ROOT, split

from ganforge.data.image_folder import decode, list_images
from ganforge.provenance.watermark import Watermark, psnr, threshold
from ganforge.utils.files import atomic_write_text


def pil_map(images: np.ndarray, fn) -> np.ndarray:
    out = []
    for im in images:
        back = np.asarray(fn(Image.fromarray(im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0))))
        out.append(back[None] if back.ndim == 2 else back.transpose(2, 0, 1))
    return np.stack(out)


def jpeg(q):
    def f(img):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=q)
        return Image.open(io.BytesIO(buf.getvalue())).convert(img.mode)
    return f


def resize(factor):
    return lambda img: img.resize((round(img.width * factor),) * 2, Image.BILINEAR).resize(img.size, Image.BILINEAR)


def crop(fraction):
    def f(img):
        side = round(img.width * fraction)
        left = (img.width - side) // 2
        return img.crop((left, left, left + side, left + side)).resize(img.size, Image.BILINEAR)
    return f


def enlarge_and_back(img):  # enlarged x2 by someone, then brought back to the generated size by the verifier (box)
    big = img.resize((img.width * 2,) * 2, Image.BILINEAR)
    return big.resize(img.size, Image.BOX)


EDITS = {"none": None, "jpeg90": jpeg(90), "jpeg75": jpeg(75), "jpeg50": jpeg(50), "resize0.75": resize(0.75),
         "resize0.5": resize(0.5), "enlarge2x": enlarge_and_back, "crop90%": crop(0.9)}


def image_sets(n: int) -> dict[str, np.ndarray]:
    _, _, test = split("test")
    sets = {"fashion-mnist 28x28 grey": test.x[:n].numpy()}
    files = list_images(__import__("pathlib").Path(DATA_DIR) / "emoji" / "vendors" / "twemoji")[:n]
    for size in (32, 64):
        sets[f"twemoji {size}x{size} RGB"] = np.stack([decode(f, size, 3) for f in files])
    return sets


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    results = {}
    for name, images in image_sets(n).items():
        mark = Watermark("benchmark-key", images.shape[-2], images.shape[-1])
        marked = mark.embed(images)
        row = {"payload_bits": mark.bits, "detect_threshold_bits": threshold(mark.bits), "step": round(mark.step, 2),
               "psnr_db": round(psnr(marked, images), 2), "edits": {}}
        for edit, fn in EDITS.items():
            seen = marked if fn is None else pil_map(marked, fn)
            v = mark.verify(seen)
            row["edits"][edit] = {"bit_accuracy": round(float(v["bit_accuracy"].mean()), 4),
                                  "detected": round(float(v["detected"].mean()), 4)}
        row["false_positives"] = {"unmarked": float(mark.verify(images)["detected"].mean()),
                                  "wrong_key": float(Watermark("wrong-key", *images.shape[-2:]).verify(marked)["detected"].mean())}
        results[name] = row
        print(name, json.dumps(row), flush=True)
    out = {"method": "STDM in the DCT band 1 <= u+v <= 0.6 size, keyed carriers/dither/payload (ganforge.provenance.watermark)",
           "images_per_set": n, "results": results, "date": time.strftime("%Y-%m-%d"),
           "command": "python bench/bench_watermark.py"}
    atomic_write_text(ROOT / "bench" / "results" / "watermark.json", json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
