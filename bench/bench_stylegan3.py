"""StyleGAN3 (configs T and R) vs StyleGAN2 on Fashion-MNIST at 16x16: equivariance (EQ-T, EQ-T_frac,
EQ-R in dB) at initialisation and after an equal CPU-time budget, with a quality check beside it.

    python bench/bench_stylegan3.py --data-dir ../shared/data/fashion-mnist --budget 150 --eq-samples 64

Each model trains on one thread until its training has used ``--budget`` CPU-seconds (CPU time, not
wall time: the machine is shared). Small models, as the learning tests: z 32, widths 8, batch 16,
EMA 0.99; StyleGAN2 with its recipe's options; StyleGAN3 with ``num_layers`` 6 (paper: 14) and the
paper's margin of 10, other options its recipe's, except config R's D blur (sigma 10 px), which fades
over 1 kimg instead of 200 (the official fade is ~1-4% of a run; 200 kimg would blur this whole run).
Equivariance (``ganforge.metrics.equivariance``) of
the EMA generator on ``--eq-samples`` w, batches of 4 (one transform per batch, as the official code);
StyleGAN2's EQ-T translates its 4x4 constant (band-limited), it has no EQ-R. Quality: the Fréchet
distance on the real data's 20 principal components between 300 samples and 1,000 training images
(the learning tests' check; untrained ~90, real vs real ~1.3). The RMS of the generated images is
recorded too: PSNR is relative to the [-1, 1] range, so a near-constant image scores high by itself.
Results: bench/results/stylegan3-equivariance.json. ``--grids`` also saves, per model, 32 EMA samples
and a translation strip (rows: seeds; columns: the input moved right by 0, 1/4, ..., 2 pixels) to
docs/img/equivariance-<model>-{samples,translate}.png.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.metrics.equivariance import equivariance, synthesize  # noqa: E402
from ganforge.metrics.fid import frechet_distance  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402
from ganforge.utils.hardware import describe_machine  # noqa: E402

RESULTS = ROOT / "bench" / "results"
IMG = ROOT / "docs" / "img"
SMALL = dict(image_size=16, z_dim=32, g_width=8, d_width=8, batch_size=16, ema_decay=0.99, sample_every=0,
             checkpoint_every=0, log_every=10**8, device="cpu", channels_last=False)
MODELS = {
    "stylegan2": {"recipe": "stylegan2"},
    "stylegan3-t": {"recipe": "stylegan3", "options": {"num_layers": 6}},
    "stylegan3-r": {"recipe": "stylegan3", "options": {"num_layers": 6, "config": "r", "blur_fade_kimg": 1}},
}


def pca_frechet(fake: torch.Tensor, real: torch.Tensor, k: int = 20) -> float:
    real, fake = real.flatten(1).double(), fake.flatten(1).double()
    mu = real.mean(0)
    _, _, v = torch.pca_lowrank(real - mu, q=k, center=False, niter=4)
    a, b = (real - mu) @ v, (fake - mu) @ v
    return frechet_distance(a.mean(0).numpy(), torch.cov(a.T).numpy(), b.mean(0).numpy(), torch.cov(b.T).numpy())


def measure(trainer, real: torch.Tensor, eq_samples: int) -> dict:
    generator = trainer.ema.model
    kinds = ("t", "t_frac", "r") if hasattr(generator.synthesis, "input") else ("t", "t_frac")
    start = time.process_time()
    eq = equivariance(generator, kinds, num_samples=eq_samples, seed=0)
    fake = trainer.recipe.sample(300, seed=1, nets={"generator": generator}).x
    return {**{f"eq_{k}_db": round(v, 2) for k, v in eq.items()}, "pca_frechet": round(pca_frechet(fake, real), 2),
            "image_rms": round(float(fake.square().mean().sqrt()), 4), "eval_cpu_s": round(time.process_time() - start, 1)}


@torch.no_grad()
def save_grids(name: str, trainer, dataset) -> None:
    from ganforge.utils.images import save_grid

    generator = trainer.ema.model.eval()
    save_grid(dataset.from_model(trainer.recipe.sample(32, seed=1, nets={"generator": generator}).x),
              IMG / f"equivariance-{name}-samples.png", nrow=8)
    ws = generator.styles(trainer.recipe.seed_latents(range(6)))
    res, frames = dataset.shape[-1], []
    for k in range(9):  # quarter-pixel steps: texture that moves with the content vs sticks to pixels
        mat = torch.eye(3)
        mat[0, 2] = -k / 4 / res
        frames.append(synthesize(generator, ws, mat))
    strip = torch.stack(frames, dim=1).flatten(0, 1).clamp(-1, 1)
    save_grid(dataset.from_model(strip), IMG / f"equivariance-{name}-translate.png", nrow=9)


def run(name: str, args) -> dict:
    cfg = make_config({**SMALL, **MODELS[name], "data": "fashion-mnist", "data_dir": args.data_dir, "steps": 10**8,
                       "seed": args.seed})
    dataset = load_dataset(cfg)
    real = dataset.to_model(dataset.x[:1000])
    torch.manual_seed(args.seed)
    trainer = Trainer(cfg, run_dir=None, dataset=dataset)
    init = measure(trainer, real, args.eq_samples)
    load_start, wall, cpu = describe_machine()["loadavg"], time.time(), time.process_time()
    while time.process_time() - cpu < args.budget:
        trainer.train_step()
    train_cpu, train_wall = time.process_time() - cpu, time.time() - wall
    trained = measure(trainer, real, args.eq_samples)
    if args.grids:
        save_grids(name, trainer, dataset)
    result = {"model": name, "recipe": cfg.recipe, "options": MODELS[name].get("options", {}), "steps": trainer.step,
              "kimg": round(trainer.step * cfg.batch_size / 1000, 2), "train_cpu_s": round(train_cpu, 1),
              "train_wall_s": round(train_wall, 1), "init": init, "trained": trained, "loadavg_start": load_start,
              "loadavg_end": describe_machine()["loadavg"]}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True, help="Fashion-MNIST directory")
    p.add_argument("--budget", type=float, default=150, help="training CPU-seconds per model [default: 150]")
    p.add_argument("--eq-samples", type=int, default=64, help="w per equivariance metric [default: 64]")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated among {', '.join(MODELS)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grids", action="store_true", help="save sample grids and translation strips to docs/img/")
    args = p.parse_args()
    torch.set_num_threads(1)
    results = [run(name, args) for name in args.models.split(",")]
    out = {"bench": "stylegan3-equivariance", "data": "fashion-mnist 16x16", "small_config": SMALL,
           "budget_cpu_s": args.budget, "eq_samples": args.eq_samples, "threads": 1, "machine": describe_machine(),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": "python bench/bench_stylegan3.py " + " ".join(sys.argv[1:]), "results": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "stylegan3-equivariance.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
