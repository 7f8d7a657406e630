"""StackGAN on OpenMoji colour images and their captions: a matching model (the R-precision judge) and a
StackGAN run trained through `ganforge train`, then R-precision and FID on the test captions, a prompt
grid through `ganforge sample --prompt`, and the same scores for real test images (the ceiling) and for
the generator before training (the floor).

    OMP_NUM_THREADS=2 python bench/bench_stackgan.py --data ../shared/data/emoji/openmoji --image-size 32 \
        --encoder-steps 300 --stage1-steps 1000 --stage2-steps 500 --matcher-steps 600 --fid --out bench/runs

Writes bench/results/stackgan.json and docs/img/stackgan-prompts.png.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's ganforge, whatever is installed

from ganforge.cli import main  # noqa: E402
from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.data.captions import decode  # noqa: E402
from ganforge.metrics import evaluate  # noqa: E402
from ganforge.metrics.rprecision import load_matcher, r_precision  # noqa: E402

DATA_OPTIONS = "images: color, caption_column: annotation"
PROMPTS = ("red heart", "blue heart", "green circle", "yellow square", "smiling face with sunglasses",
           "grinning face", "flag: Japan", "red apple")


def _train(args, recipe: str, steps: int, seed: int, options: str, run_dir: Path, extra=()) -> dict:
    start, cpu = time.perf_counter(), time.process_time()
    argv = ["train", "--recipe", recipe, "--data", "captions", "--data-dir", args.data, "--steps", str(steps),
            "--seed", str(seed), "--batch-size", str(args.batch_size), "--options", "{" + options + "}",
            "--image-size", str(args.image_size), "--g-width", str(args.width), "--d-width", str(args.width),
            "--checkpoint-every", str(steps), "--sample-every", str(steps), "--device", "cpu", "--out",
            str(run_dir), *extra]
    assert main(argv) == 0, argv
    return {"command": "ganforge " + " ".join(argv), "wall_s": round(time.perf_counter() - start, 1),
            "cpu_s": round(time.process_time() - cpu, 1)}


def _scores(images, captions, matcher, reference, args, fid=False) -> dict:
    out = {k: v for k, v in r_precision(images, captions, matcher, seed=0).items() if k == "r_precision"}
    if fid and args.fid:
        out.update(evaluate(images, reference, ["fid"], extractor="inception", real_samples=len(reference),
                            inception_weights=args.inception_weights))
    return out


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/emoji/openmoji")
    p.add_argument("--encoder-steps", type=int, default=300)
    p.add_argument("--stage1-steps", type=int, default=1500)
    p.add_argument("--stage2-steps", type=int, default=700)
    p.add_argument("--matcher-steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--image-size", type=int, default=32, help="64 is the recipe's default; 32 fits a CPU budget")
    p.add_argument("--width", type=int, default=16, help="g_width and d_width (the recipe's default: 32)")
    p.add_argument("--fid", action="store_true", help="also FID of stage II (Inception, the test images as reference)")
    p.add_argument("--inception-weights", default=None)
    p.add_argument("--matcher-lr", type=float, default=1e-3, help="learning rate of the matching model")
    p.add_argument("--lr", type=float, default=2e-4, help="learning rate of every StackGAN network (paper: 2e-4)")
    p.add_argument("--out", default="bench/runs")
    p.add_argument("--results", default="bench/results/stackgan.json")
    p.add_argument("--grid", default="docs/img/stackgan-prompts.png")
    args = p.parse_args()
    out = Path(args.out)
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
              "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}
    result["matcher"] = _train(args, "text-encoder", args.matcher_steps, 1, DATA_OPTIONS, out / "matcher",
                               ("--lr-d", str(args.matcher_lr)))
    total = args.encoder_steps + args.stage1_steps + args.stage2_steps
    options = f"{DATA_OPTIONS}, encoder_steps: {args.encoder_steps}, stage1_steps: {args.stage1_steps}"
    result["stackgan"] = _train(args, "stackgan", total, 0, options, out / "stackgan",
                                ("--lr-g", str(args.lr), "--lr-d", str(args.lr)))

    import ganforge

    gen = ganforge.load(out / "stackgan")
    test = load_dataset(make_config({**gen.config.to_dict(), "device": "cpu"}), "test")
    captions = decode(test.fields["caption"], test.meta["vocab"])
    matcher = load_matcher(out / "matcher")
    reference = test.to_model(test.x)
    scores = {"real test images (ceiling)": _scores(reference, captions, matcher, reference, args)}
    with torch.no_grad():
        scores["stackgan stage II"] = _scores(gen.recipe.sample(len(test), seed=1, nets=gen.nets,
                                                                prompt=test.fields["caption"]).x,
                                              captions, matcher, reference, args, fid=True)
        low = gen.recipe.sample(len(test), seed=1, nets=gen.nets, prompt=test.fields["caption"], stage=1).x
        scores["stackgan stage I (upsampled)"] = _scores(torch.nn.functional.interpolate(low, scale_factor=2),
                                                        captions, matcher, reference, args)
        untrained = type(gen.recipe)(gen.config, gen.dataset)
        untrained.nets["text_encoder"].load_state_dict(gen.nets["text_encoder"].state_dict())
        scores["untrained generator (floor)"] = _scores(untrained.sample(len(test), seed=1, prompt=test.fields["caption"]).x,
                                                       captions, matcher, reference, args)
    result["scores"] = scores
    result["chance_r_precision"] = 0.01
    result["test_captions"] = len(test)
    grid = Path(args.grid)
    argv = ["sample", str(out / "stackgan"), "-n", "8", "--out", str(out / "one-prompt.png"), "--prompt", PROMPTS[0]]
    assert main(argv) == 0
    rows = [gen.recipe.sample(8, seed=3, nets=gen.nets, prompt=text).x for text in PROMPTS]
    from ganforge.utils.images import save_grid

    save_grid(test.from_model(torch.cat(rows)), grid, nrow=8)
    result["grid"] = {"file": str(grid), "rows": list(PROMPTS), "seed": 3}
    result["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    path = Path(args.results)
    path.write_text(json.dumps(result, indent=2) + "\n")
    for what, s in scores.items():
        print(f"| {what} | " + " | ".join(f"{k} {v:.4g}" for k, v in s.items()) + " |")


if __name__ == "__main__":
    cli()
