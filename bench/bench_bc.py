"""BCGAN experiments: a base conditional GAN vs the same GAN + BC-loss, same budget, 3 seeds.

One command per experiment (each writes bench/results/bc-<name>.json and prints a Markdown table):

    python bench/bench_bc.py gaussians      # 2-D overlapping Gaussians (+ docs/img/bc-gaussians.png)
    python bench/bench_bc.py moons          # 2-D two moons
    python bench/bench_bc.py breast_cancer  # scikit-learn's bundled tables, standardised
    python bench/bench_bc.py wine
    python bench/bench_bc.py digits         # 8x8 images, + the CNN / CAS
    python bench/bench_bc.py mnist --data-dir ../shared/data/mnist-10k   # smaller budget
    python bench/bench_bc.py mnist-strong --data-dir DIR  # the strong generators (issue 12 item 5)
    python bench/bench_bc.py digits-strong                # (add --resume to keep finished runs)
    python bench/bench_bc.py digits-strong --bc-options '{"bc_temperature": 4}' --tag t4  # a BC variant
    python bench/bench_bc.py ablation       # lambda sweep on the Gaussians
    python bench/bench_bc.py confidence     # BC classifiers: train vs held-out posterior confidence
    python bench/bench_bc.py table          # all results/bc-*.json -> the Markdown for BENCHMARKS.md

Protocol: recipe ``cgan`` (non-saturating loss) with the ``mlp`` architecture for vectors and
``dcgan`` for images; "BC" = the same config with ``bc_weight`` = LAMBDA (linear kernel, classifier
ensemble logreg+mlp (+cnn for images), real statistics from the current batch). TSTR/TRTR by
``ganforge.metrics.compatibility`` (labels with the real class frequencies). Realism: the Fréchet
distance and KID between real test data and synthetic samples, on the raw features for vectors and
on the ``classifier`` extractor's features (the pretrained CNN's penultimate layer) for images.
Every run uses ``torch.set_num_threads(1)`` (the machine is shared; 1 thread is also faster for
these small networks).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data import Dataset, load_dataset  # noqa: E402
from ganforge.metrics.compatibility import evaluate_compatibility  # noqa: E402
from ganforge.sampling import generate  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
IMG = ROOT / "docs" / "img"
SEEDS = (0, 1, 2)

VECTOR = {"recipe": "cgan", "architecture": "mlp", "z_dim": 16, "g_width": 128, "d_width": 128, "batch_size": 128,
          "ema_decay": 0.0, "sample_every": 0, "checkpoint_every": 0, "log_every": 100, "channels_last": False,
          "lr_g": 1e-3, "lr_d": 1e-3}
IMAGE = {"recipe": "cgan", "architecture": "dcgan", "z_dim": 64, "g_width": 32, "d_width": 32, "batch_size": 64,
         "ema_decay": 0.99, "sample_every": 0, "checkpoint_every": 0, "log_every": 100, "channels_last": False,
         # configs/data/mnist.yaml turns the mode-seeking term on for cgan (the default job); the BC protocol and
         # its recorded results (bc-mnist.json) are the plain cGAN vs cGAN + BC, so it stays off here
         "ms_weight": 0.0}

# bench-only keys (no samples/checkpoints written); every other setting comes from the YAML defaults
STRONG = {"recipe": "cgan", "sample_every": 0, "checkpoint_every": 0, "log_every": 100}
# configs/data/digits.yaml's dcgan settings (lr 5e-4, linear decay over the second half, lazy R1 gamma 1) on cgan
# (at cgan's default 3,000 steps, not the dcgan job's 5,000: the CPU budget of the 2026-12-02 session),
# plus the mode-seeking term that made cgan strong on MNIST
DIGITS_STRONG = {**STRONG, "lr_g": 5e-4, "lr_d": 5e-4, "lr_decay_start": 0.5, "r1_gamma": 1.0, "ms_weight": 1.0}

EXPERIMENTS = {
    "gaussians": {"data": "overlapping-gaussians", "base": VECTOR, "steps": 1000, "lambda": 10.0},
    "moons": {"data": "moons", "base": VECTOR, "steps": 1000, "lambda": 10.0},
    "breast_cancer": {"data": "sk:breast_cancer", "base": VECTOR, "steps": 1000, "lambda": 10.0},
    "wine": {"data": "sk:wine", "base": {**VECTOR, "batch_size": 32}, "steps": 1000, "lambda": 10.0},
    "digits": {"data": "digits", "base": IMAGE, "steps": 1000, "lambda": 10.0, "cnn_steps": 300},
    "mnist": {"data": "mnist", "base": IMAGE, "steps": 800, "lambda": 10.0, "cnn_steps": 300,
              "max_train": 5000},
    # issue 12 item 5: the same comparison on strong generators. mnist-strong's base IS the default job
    # (`ganforge train --recipe cgan --data mnist`: every other setting from the YAML defaults, incl. ms_weight 1,
    # one thread, 3,000 steps) and its TSTR uses compatibility's default CNN (the 0.95-0.96 TSTR/TRTR of
    # bench_cgan_mnist.py) and max_train. digits-strong: cgan with the digits default job's optimiser settings.
    "mnist-strong": {"data": "mnist", "base": STRONG, "steps": 3000, "lambda": 10.0},
    "digits-strong": {"data": "digits", "base": DIGITS_STRONG, "steps": 3000, "lambda": 10.0},
}


# ---- data ---------------------------------------------------------------------------------------
def sklearn_table(name: str) -> tuple[Dataset, Dataset]:
    """A bundled scikit-learn table, stratified 70/30 split (seed 0), standardised with train statistics."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    bunch = getattr(datasets, f"load_{name}")()
    x_tr, x_te, y_tr, y_te = train_test_split(bunch.data, bunch.target, test_size=0.3, random_state=0,
                                              stratify=bunch.target)
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-8
    make = lambda x, y: Dataset(name, torch.tensor((x - mean) / std, dtype=torch.float32),  # noqa: E731
                                torch.tensor(y), int(bunch.target.max()) + 1, [str(c) for c in bunch.target_names])
    return make(x_tr, y_tr), make(x_te, y_te)


def splits(exp: dict, overrides: dict) -> tuple[Dataset, Dataset]:
    if exp["data"].startswith("sk:"):
        return sklearn_table(exp["data"][3:])
    cfg = make_config({**exp["base"], "data": exp["data"], **overrides})
    return load_dataset(cfg, "train"), load_dataset(cfg, "test")


# ---- one run ------------------------------------------------------------------------------------
class RunGenerator:
    """What evaluate_compatibility needs, from an in-memory trainer (EMA weights when there are some)."""

    def __init__(self, trainer: Trainer):
        self.recipe = trainer.recipe
        self.module = trainer.ema.model if trainer.ema is not None else trainer.recipe.nets["generator"]
        self.num_classes = self.recipe.num_classes

    def sample_with_labels(self, n, seed=0, labels=None):
        return generate(self.recipe, self.module, n, seed=seed + 10_000, labels=labels)


def realism(train: Dataset, test: Dataset, fake: torch.Tensor) -> dict:
    """Fréchet distance and KID (x1000 for images) between the real test split and synthetic samples."""
    if train.kind == "image":
        from ganforge.classifiers import pretrained

        net = pretrained(train, "cnn")
        with torch.no_grad():
            real_f = torch.cat([net.features(test.to_model(test.x[i:i + 1000])) for i in range(0, len(test.x), 1000)])
            fake_f = torch.cat([net.features(fake[i:i + 1000]) for i in range(0, len(fake), 1000)])
    else:
        real_f, fake_f = test.x, fake
    return {"fd": frechet(real_f.double().numpy(), fake_f.double().numpy()),
            "kid": kid(real_f.double().numpy(), fake_f.double().numpy())}


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa−μb‖² + tr(Ca + Cb − 2(Ca^½ Cb Ca^½)^½), float64, via symmetric eigendecompositions."""
    mu = a.mean(0) - b.mean(0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    w, v = np.linalg.eigh(ca)
    sa = (v * np.sqrt(w.clip(min=0))) @ v.T
    cross = np.sqrt(np.linalg.eigvalsh(sa @ cb @ sa).clip(min=0)).sum()
    return float(mu @ mu + np.trace(ca) + np.trace(cb) - 2 * cross)


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 20, size: int = 500, seed: int = 0) -> float:
    """Unbiased polynomial-kernel MMD² (Bińkowski et al. 2018), mean over subsets."""
    rng = np.random.default_rng(seed)
    d, size = a.shape[1], min(size, len(a), len(b))
    values = []
    for _ in range(subsets):
        x, y = a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        m = size
        values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                      - 2 * kxy.mean())
    return float(np.mean(values))


def run_one(exp: dict, train: Dataset, test: Dataset, seed: int, bc_weight: float, overrides: dict) -> dict:
    cfg = make_config({**exp["base"], "data": exp["data"].removeprefix("sk:"),
                       "steps": exp["steps"], "seed": seed, "bc_weight": bc_weight, **overrides})
    start, cpu = time.perf_counter(), time.process_time()
    trainer = Trainer(cfg, run_dir=None, dataset=train)
    trainer.fit()
    train_seconds, train_cpu = time.perf_counter() - start, time.process_time() - cpu
    gen = RunGenerator(trainer)
    compat = evaluate_compatibility(gen, train, test, seed=seed, cnn_steps=exp.get("cnn_steps"),
                                    max_train=exp.get("max_train", 10_000))
    fake, _ = gen.sample_with_labels(min(len(test.x), 5000) if train.kind == "image" else len(test.x), seed=1,
                                     labels=test.y[:min(len(test.x), 5000)] if train.kind == "image" else test.y)
    if train.kind == "image":
        fake = train.to_model(train.from_model(fake))
    result = {"seed": seed, "bc_weight": bc_weight, "train_seconds": round(train_seconds, 1),
              "train_cpu_s": round(train_cpu, 1), "loadavg": round(os.getloadavg()[0], 2),
              **{k: compat[k] for k in ("tstr", "trtr", "tstr_f1", "tstr_mean", "trtr_mean", "compatibility")},
              **({"cas": compat["cas"]} if "cas" in compat else {}), **realism(train, test, fake)}
    return result, gen


# ---- aggregation, plots, CLI --------------------------------------------------------------------
def summarise(runs: list[dict]) -> dict:
    """mean and std over seeds of every scalar and of every per-family accuracy."""
    def stat(values):
        return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}

    out = {k: stat([r[k] for r in runs]) for k in ("tstr_mean", "compatibility", "fd", "kid", "cas", "train_seconds",
                                                    "train_cpu_s")
           if k in runs[0]}
    out["tstr"] = {f: stat([r["tstr"][f] for r in runs]) for f in runs[0]["tstr"]}
    out["trtr"] = runs[0]["trtr"]
    return out


def plot_2d(path: Path, train: Dataset, panels: list[tuple[str, torch.Tensor, torch.Tensor]]) -> None:
    """Samples of each panel with the decision regions of an SVM-RBF trained on that panel's points
    (filled) and on the real data (black lines): where synthetic data moves the learned boundary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.svm import SVC

    x_all = train.x.numpy()
    lo, hi = x_all.min(0) - 0.5, x_all.max(0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    real_svm = SVC().fit(x_all[:3000], train.y.numpy()[:3000])
    real_regions = real_svm.predict(grid).reshape(gx.shape)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), sharex=True, sharey=True)
    levels = np.arange(train.num_classes + 1) - 0.5
    for ax, (title, x, y) in zip(axes, panels):
        x, y = x.numpy()[:3000], y.numpy()[:3000]
        regions = SVC().fit(x, y).predict(grid).reshape(gx.shape)
        ax.contourf(gx, gy, regions, levels=levels, cmap="Pastel1", alpha=0.6)
        ax.contour(gx, gy, real_regions, levels=levels, colors="k", linewidths=1.0)
        ax.scatter(x[:1500, 0], x[:1500, 1], c=y[:1500], cmap="Set1", s=3, vmin=0, vmax=8)
        ax.set_title(title, fontsize=10)
    fig.suptitle("filled: SVM-RBF trained on the panel's points; black: SVM-RBF trained on real data", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def compare(name: str, overrides: dict, seeds=SEEDS, resume: bool = False) -> dict:
    exp = EXPERIMENTS[name]
    train, test = splits(exp, overrides)
    runs, panels = {"base": [], "bc": []}, [("real (train)", train.x, train.y)]
    path = RESULTS / f"bc-{name}.json"
    if resume and path.is_file():  # keep the finished runs of the same experiment (same steps and config)
        old = json.loads(path.read_text())
        if old["steps"] == exp["steps"] and old["config"] == {**exp["base"], **overrides}:
            runs = {arm: [r for r in old["runs"][arm] if r["seed"] in seeds] for arm in runs}
    for seed in seeds:
        for arm, weight in (("base", 0.0), ("bc", exp["lambda"])):
            if any(r["seed"] == seed for r in runs[arm]):
                continue
            result, gen = run_one(exp, train, test, seed, weight, overrides)
            runs[arm].append(result)
            runs[arm].sort(key=lambda r: r["seed"])
            print(f"{name} seed {seed} {arm}: TSTR mean {result['tstr_mean']:.4f} ratio {result['compatibility']:.3f} "
                  f"FD {result['fd']:.4f} ({result['train_seconds']} s)", flush=True)
            if seed == seeds[0] and train.kind == "vector" and train.shape == (2,):
                x, y = gen.sample_with_labels(len(train.y), seed=5, labels=train.y)
                panels.append((f"{'base cGAN' if arm == 'base' else f'cGAN + BC (λ={weight:g})'}, seed {seed}", x, y))
            # written after every run: a long experiment cut short still leaves its finished runs (the
            # summary then covers only the seeds in "runs")
            write_json(path, _record(name, exp, overrides, train, test, seeds, runs))
    if len(panels) > 1:
        plot_2d(IMG / f"bc-{name}.png", train, panels)
    out = _record(name, exp, overrides, train, test, seeds, runs)
    write_json(path, out)
    return out


def _record(name, exp, overrides, train, test, seeds, runs) -> dict:
    resolved = make_config({**exp["base"], "data": exp["data"].removeprefix("sk:"), "steps": exp["steps"],
                            **overrides}).__dict__
    return {"experiment": name, "data": exp["data"], "steps": exp["steps"], "lambda": exp["lambda"],
            "config": {**exp["base"], **overrides}, "n_train": len(train.y), "n_test": len(test.y),
            # "seeds": those with both arms finished (a run cut short lists fewer than were asked for)
            "seeds": [s for s in seeds if all(any(r["seed"] == s for r in runs[a]) for a in runs)],
            "seeds_requested": list(seeds), "runs": runs,
            "summary": {arm: summarise(r) for arm, r in runs.items() if r},
            **({"resolved_config": {k: v for k, v in resolved.items() if k not in ("data_dir", "out", "seed")}}
               if "strong" in name else {}),
            "date": time.strftime("%Y-%m-%d"),
            "command": "python bench/bench_bc.py " + " ".join(sys.argv[1:]), "torch_threads": torch.get_num_threads()}


def attempt(name: str, overrides: dict, bc_options: dict, tag: str, seeds=SEEDS) -> dict:
    """A variant of the BC arm (e.g. {"bc_temperature": 4}) against the base runs already recorded in
    results/bc-NAME.json (the base arm does not depend on the BC options, so it is not rerun); writes
    results/bc-NAME-TAG.json after every run."""
    exp = EXPERIMENTS[name]
    recorded = json.loads((RESULTS / f"bc-{name}.json").read_text())
    if recorded["steps"] != exp["steps"] or recorded["config"] != {**exp["base"], **overrides}:
        raise SystemExit(f"results/bc-{name}.json was made with other steps/config; run `{name}` first")
    base = {r["seed"]: r for r in recorded["runs"]["base"]}
    seeds = [s for s in seeds if s in base]
    train, test = splits(exp, overrides)
    runs = {"base": [base[s] for s in seeds], "bc": []}
    for seed in seeds:
        result, _ = run_one(exp, train, test, seed, exp["lambda"], {**overrides, **bc_options})
        runs["bc"].append(result)
        print(f"{name} [{tag}] seed {seed} bc: TSTR mean {result['tstr_mean']:.4f} ratio {result['compatibility']:.3f} "
              f"FD {result['fd']:.4f} ({result['train_seconds']} s)", flush=True)
        out = {**_record(name, exp, overrides, train, test, seeds, runs), "bc_options": bc_options,
               "experiment": f"{name}-{tag}", "base_from": f"bench/results/bc-{name}.json"}
        write_json(RESULTS / f"bc-{name}-{tag}.json", out)
    return out


def ablation(overrides: dict, lambdas=(0.0, 1.0, 10.0, 100.0), seeds=(0, 1)) -> dict:
    exp = EXPERIMENTS["gaussians"]
    train, test = splits(exp, overrides)
    rows, done = [], _finished_gaussian_runs(exp)
    for weight in lambdas:
        runs = []
        for seed in seeds:
            if (weight, seed) in done:  # the same config and seed already ran in `gaussians`: reuse it
                runs.append(done[weight, seed])
                continue
            result, _ = run_one(exp, train, test, seed, weight, overrides)
            runs.append(result)
        rows.append({"bc_weight": weight, **summarise(runs), "runs": runs})
        print(f"lambda {weight:g}: TSTR mean {rows[-1]['tstr_mean']['mean']:.4f} FD {rows[-1]['fd']['mean']:.4f}", flush=True)
    out = {"experiment": "ablation", "data": exp["data"], "steps": exp["steps"], "seeds": list(seeds), "rows": rows,
           "command": "python bench/bench_bc.py " + " ".join(sys.argv[1:])}
    write_json(RESULTS / "bc-ablation.json", out)
    return out


def _finished_gaussian_runs(exp: dict) -> dict:
    path = RESULTS / "bc-gaussians.json"
    if not path.is_file():
        return {}
    d = json.loads(path.read_text())
    if d["steps"] != exp["steps"] or d["config"] != exp["base"]:
        return {}
    return {(r["bc_weight"], r["seed"]): r for arm in ("base", "bc") for r in d["runs"][arm]}


def _pm(s: dict, digits: int = 3, scale: float = 1.0) -> str:
    return f"{s['mean'] * scale:.{digits}f} ± {s['std'] * scale:.{digits}f}"


def table() -> str:
    lines = []
    for name in EXPERIMENTS:
        path = RESULTS / f"bc-{name}.json"
        if not path.is_file():
            continue
        d = json.loads(path.read_text())
        fams = list(d["summary"]["base"]["tstr"])
        lines += [f"**{name}** ({d['data']}, n_train {d['n_train']}, {d['steps']} steps, λ = {d['lambda']:g}, "
                  f"seeds {d['seeds']})", "",
                  "| arm | " + " | ".join(fams) + " | TSTR mean | TSTR/TRTR | FD | KID |",
                  "|---" * (len(fams) + 5) + "|"]
        trtr = d["summary"]["base"]["trtr"]
        lines.append("| TRTR (real) | " + " | ".join(f"{trtr[f]:.3f}" for f in fams) + " | "
                     f"{np.mean(list(trtr.values())):.3f} | 1 | | |")
        for arm in ("base", "bc"):
            s = d["summary"][arm]
            lines.append(f"| {'cGAN' if arm == 'base' else 'cGAN + BC'} | "
                         + " | ".join(_pm(s["tstr"][f]) for f in fams)
                         + f" | {_pm(s['tstr_mean'])} | {_pm(s['compatibility'])} | {_pm(s['fd'], 3)} | {_pm(s['kid'], 4)} |")
        lines.append("")
    path = RESULTS / "bc-ablation.json"
    if path.is_file():
        d = json.loads(path.read_text())
        lines += [f"**λ ablation** ({d['data']}, {d['steps']} steps, seeds {d['seeds']})", "",
                  "| λ | TSTR mean | TSTR/TRTR | FD | KID |", "|---|---|---|---|---|"]
        for row in d["rows"]:
            lines.append(f"| {row['bc_weight']:g} | {_pm(row['tstr_mean'])} | {_pm(row['compatibility'])} | "
                         f"{_pm(row['fd'])} | {_pm(row['kid'], 4)} |")
    return "\n".join(lines)


def confidence(overrides: dict, names=("gaussians", "moons", "breast_cancer", "wine"),
               out: str = "bc-confidence.json") -> dict:
    """How confident the BC classifiers are on their own training rows vs held-out rows (overfitting
    makes the "real" posteriors one-hot, and BC then asks G for confident, easy samples)."""
    from ganforge.classifiers import pretrained

    rows = []
    for name in names:
        train, test = splits(EXPERIMENTS[name], overrides)
        for kind in ("logreg", "mlp", "cnn") if train.kind == "image" else ("logreg", "mlp"):
            h = pretrained(train, kind)
            row = {"experiment": name, "classifier": kind}
            for split, data in (("train", train), ("test", test)):
                with torch.no_grad():
                    p = torch.softmax(torch.cat([h(data.to_model(data.x[i:i + 2000]))
                                                 for i in range(0, len(data.x), 2000)]), 1)
                row[f"{split}_accuracy"] = float((p.argmax(1) == data.y).float().mean())
                row[f"{split}_mean_max_posterior"] = float(p.max(1).values.mean())
                row[f"{split}_share_below_0.9"] = float((p.max(1).values < 0.9).float().mean())
            rows.append(row)
            print(json.dumps(row))
    write_json(RESULTS / out, {"rows": rows, "command": "python bench/bench_bc.py " + " ".join(sys.argv[1:])})
    return {"rows": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", choices=[*EXPERIMENTS, "ablation", "confidence", "confidence-images", "table"])
    p.add_argument("--data-dir", help="folder of the mnist files (mnist experiment)")
    p.add_argument("--steps", type=int, help="override the experiment's generator steps")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--resume", action="store_true", help="keep the finished runs of results/bc-NAME.json")
    p.add_argument("--bc-options", help="JSON options of a BC-arm variant (run vs the recorded base; needs --tag)")
    p.add_argument("--tag", help="name of the variant: writes results/bc-NAME-TAG.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.experiment == "table":
        print(table())
        return 0
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    if args.steps:
        EXPERIMENTS[args.experiment if args.experiment != "ablation" else "gaussians"]["steps"] = args.steps
    if args.experiment == "confidence-images":  # the strong image experiments' BC classifiers
        confidence(overrides, ("digits-strong", "mnist-strong") if args.data_dir else ("digits-strong",),
                   "bc-confidence-images.json")
        return 0
    if args.experiment == "confidence":
        confidence(overrides)
        return 0
    if args.bc_options:
        if not args.tag:
            p.error("--bc-options needs --tag")
        attempt(args.experiment, overrides, json.loads(args.bc_options), args.tag, seeds=tuple(range(args.seeds)))
        return 0
    if args.experiment == "ablation":
        ablation(overrides)
    else:
        compare(args.experiment, overrides, seeds=tuple(range(args.seeds)), resume=args.resume)
    print(table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
