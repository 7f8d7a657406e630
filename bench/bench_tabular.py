"""tabular-gan benchmark: TSTR vs TRTR (SDGym convention), with and without the BC-loss, 3 seeds.

    python bench/bench_tabular.py                       # all three tables (writes bench/results/tabular.json)
    python bench/bench_tabular.py --datasets wine --steps 300 --seeds 1   # a quick look
    python bench/bench_tabular.py --table               # results JSON -> the Markdown for docs/BENCHMARKS.md

Tables (no download):
* ``breast_cancer`` (569 rows, 30 numeric, binary) and ``wine`` (178 rows, 13 numeric, 3 classes):
  scikit-learn's bundled copies of the UCI tables;
* ``adult_like`` (2,000 rows, 4 numeric + 4 categorical, binary 75/25): the seeded generator
  ``ganforge.tabular.synthetic.adult_like`` (scikit-learn ``make_classification`` + binned
  categorical columns; its docstring documents every column). It is *not* UCI Adult.

Protocol: a stratified 70/30 train/test split (seed 0). ``tabular-gan`` trains on the train split
for ``--steps`` steps at learning rate ``--lr`` (1e-3: a short budget), batch 100 and pac 2:
50 packed critic inputs per step like CTGAN's batch 500 / pac 10, which is 5x the compute per step
(pac 10 with a batch of 100, only 10 packs, did not learn the label dependence in 600 steps on
wine; see docs/TABULAR.md). Otherwise the YAML defaults (WGAN-GP, Adam betas (0.5, 0.9)). "BC" adds the
BC-loss with ``bc_weight`` = ``--bc-weight`` (logreg + mlp classifiers on the encoded rows, linear
kernel). The synthetic set has the train split's size, labels at the real frequencies. Classifiers:
the families of ``ganforge.metrics.compatibility`` (logistic regression, SVM-RBF, 5-NN, decision
tree, random forest, MLP), fitted on a fixed featurisation of the *decoded* table (numeric columns as
they are, categorical ones one-hot; scaling inside the scale-sensitive pipelines), as SDGym does.
Score: binary F1 (of the minority / positive class), multiclass macro-F1, on the real test split.
Every run uses one torch thread (the machine is shared).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data.tabular import from_frame  # noqa: E402
from ganforge.metrics.compatibility import SKLEARN_FAMILIES, classifier_scores  # noqa: E402
from ganforge.tabular.synthetic import adult_like  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "tabular.json"
DATASETS = ("breast_cancer", "wine", "adult_like")


def load_table(name: str) -> tuple[pd.DataFrame, str]:
    if name == "adult_like":
        return adult_like(2000, seed=0), "income"
    from sklearn import datasets

    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    return frame, "target"


def split(frame: pd.DataFrame, target: str):
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame[target])
    return train.reset_index(drop=True), test.reset_index(drop=True)


class Featuriser:
    """Numeric columns as they are + one-hot categoricals, the categories fixed by the real train split."""

    def __init__(self, train: pd.DataFrame, target: str):
        self.target = target
        self.categorical = [c for c in train.columns if c != target and train[c].dtype.kind not in "iuf"]
        self.numeric = [c for c in train.columns if c != target and c not in self.categorical]
        self.levels = {c: sorted(train[c].astype(str).unique()) for c in self.categorical}
        self.classes = sorted(train[target].unique().tolist())

    def __call__(self, frame: pd.DataFrame):
        parts = [frame[self.numeric].to_numpy(dtype=np.float32)]
        for c in self.categorical:
            values = frame[c].astype(str).to_numpy()
            parts.append(np.stack([values == level for level in self.levels[c]], axis=1).astype(np.float32))
        y = np.array([self.classes.index(v) for v in frame[self.target].tolist()], dtype=np.int64)
        return np.concatenate(parts, axis=1), y


def train_and_sample(train: pd.DataFrame, target: str, seed: int, steps: int, bc_weight: float, lr: float,
                     batch_size: int, pac: int):
    cfg = make_config({"recipe": "tabular-gan", "target": target, "steps": steps, "seed": seed, "device": "cpu",
                       "lr_g": lr, "lr_d": lr, "batch_size": batch_size, "options": {"pac": pac},
                       "bc_weight": bc_weight, "bc_classifiers": "logreg,mlp", "log_every": 100})
    dataset = from_frame(train, cfg)
    torch.manual_seed(seed)
    trainer = Trainer(cfg, run_dir=None, callbacks=[], dataset=dataset)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    return trainer.recipe.sample_frame(len(train), seed=1000 + seed), seconds


def f1_of(scores: dict) -> dict:
    return {family: round(s["f1"], 4) for family, s in scores.items()}


def run(datasets, seeds: int, steps: int, bc_weight: float, lr: float, batch_size: int, pac: int,
        path: Path = RESULTS) -> dict:
    torch.set_num_threads(1)
    results = json.loads(path.read_text()) if path.is_file() else {}
    for name in datasets:
        frame, target = load_table(name)
        train, test = split(frame, target)
        featurise = Featuriser(train, target)
        x_test, y_test = featurise(test)
        x_train, y_train = featurise(train)
        k = len(featurise.classes)
        trtr = f1_of(classifier_scores(x_train, y_train, x_test, y_test, k, SKLEARN_FAMILIES, seed=0))
        entry = {"rows": len(frame), "train_rows": len(train), "test_rows": len(test), "classes": k,
                 "metric": "F1" if k == 2 else "macro-F1", "steps": steps, "lr": lr, "batch_size": batch_size, "pac": pac,
                 "bc_weight": bc_weight,
                 "trtr": trtr, "trtr_mean": round(float(np.mean(list(trtr.values()))), 4), "runs": {}}
        for variant, weight in (("base", 0.0), ("bc", bc_weight)):
            runs = []
            for seed in range(seeds):
                synth, seconds = train_and_sample(train, target, seed, steps, weight, lr, batch_size, pac)
                x_syn, y_syn = featurise(synth)
                tstr = f1_of(classifier_scores(x_syn, y_syn, x_test, y_test, k, SKLEARN_FAMILIES, seed=seed))
                runs.append({"seed": seed, "train_seconds": round(seconds, 1), "tstr": tstr,
                             "tstr_mean": round(float(np.mean(list(tstr.values()))), 4)})
                print(f"{name} {variant} seed {seed}: TSTR {runs[-1]['tstr_mean']:.3f} (TRTR {entry['trtr_mean']:.3f}) "
                      f"train {seconds:.0f}s", flush=True)
            entry["runs"][variant] = runs
        results[name] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(path)  # never a half-written results file
    return results


def table(results: dict) -> str:
    def mean_sd(values):
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"

    lines = ["| table | metric | TRTR | TSTR tabular-gan | TSTR + BC-loss | TSTR/TRTR (base → BC) | steps | s/run |",
             "|---|---|---|---|---|---|---|---|"]
    for name in DATASETS:
        if name not in results:
            continue
        e = results[name]
        base = [r["tstr_mean"] for r in e["runs"]["base"]]
        bc = [r["tstr_mean"] for r in e["runs"]["bc"]]
        seconds = statistics.mean(r["train_seconds"] for v in e["runs"].values() for r in v)
        lines.append(f"| {name} ({e['rows']} rows) | {e['metric']} | {e['trtr_mean']:.3f} | {mean_sd(base)} | "
                     f"{mean_sd(bc)} | {statistics.mean(base) / e['trtr_mean']:.2f} → "
                     f"{statistics.mean(bc) / e['trtr_mean']:.2f} | {e['steps']} | {seconds:.0f} |")
    lines.append("")
    lines.append("Per classifier family (mean over seeds; TRTR / base / BC):")
    lines.append("")
    lines.append("| table | " + " | ".join(SKLEARN_FAMILIES) + " |")
    lines.append("|---|" + "---|" * len(SKLEARN_FAMILIES))
    for name in DATASETS:
        if name not in results:
            continue
        e = results[name]
        cells = []
        for f in SKLEARN_FAMILIES:
            base = statistics.mean(r["tstr"][f] for r in e["runs"]["base"])
            bc = statistics.mean(r["tstr"][f] for r in e["runs"]["bc"])
            cells.append(f"{e['trtr'][f]:.2f} / {base:.2f} / {bc:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--bc-weight", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3, help="lr_g = lr_d (CTGAN's 2e-4 needs ~10x more steps)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--pac", type=int, default=2, help="rows per critic input (CTGAN: 10 with batch 500)")
    p.add_argument("--results", type=Path, default=RESULTS, help=f"results JSON [default: {RESULTS}]")
    p.add_argument("--table", action="store_true", help="only print the Markdown table of the saved results")
    args = p.parse_args(argv)
    if not args.table:
        run([d for d in args.datasets.split(",") if d], args.seeds, args.steps, args.bc_weight, args.lr, args.batch_size,
            args.pac, args.results)
    print(table(json.loads(args.results.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
