"""Model compatibility: train on synthetic, test on real (TSTR) versus train on real (TRTR).

A generator is *compatible* with a family of classifiers when classifiers trained from scratch on
its labelled samples do as well on the real test split as the same classifiers trained on the real
training split. Protocol (docs/BCGAN.md has the details):

1. Draw a labelled synthetic set of the real training set's size from a class-conditional
   generator. Labels follow the real training class frequencies by default (``labels="real"``:
   exactly the real per-class counts, so TSTR and TRTR see the same label prior); ``"balanced"``
   draws equal counts. Images are quantised to uint8 and back like the real ones.
2. Train from scratch, on synthetic (TSTR) and on real (TRTR), scikit-learn's logistic regression,
   SVM-RBF, k-NN (k=5), decision tree, random forest (50 trees) and MLP (one hidden layer of 128);
   for images also the small torch CNN of ``ganforge.classifiers`` (its accuracy on synthetic data
   is the Classification Accuracy Score, CAS, of Ravuri & Vinyals 2019, also given per class).
   Scale-sensitive models get a StandardScaler fitted on their own training set.
3. Report each accuracy (and F1: binary = F1 of class 1, multiclass = macro-F1, the SDGym convention)
   on the real test split, the mean over families, and TSTR/TRTR (per family and of the means).

CPU budget: every family trains on at most ``max_train`` (10,000) rows and SVM-RBF on at most
``max_svm`` (3,000: kernel SVMs are quadratic), both seeded subsamples, identical for TSTR and TRTR.
TRTR depends only on the data, so it is cached as JSON under ``$GANFORGE_CACHE/compatibility/``.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ganforge.errors import GanforgeError

SKLEARN_FAMILIES = ("logreg", "svm", "knn", "tree", "forest", "mlp")
IMAGE_FAMILIES = SKLEARN_FAMILIES + ("cnn",)
MAX_TRAIN, MAX_SVM = 10_000, 3_000
CACHE_VERSION = 1


def make_estimator(family: str, seed: int):
    """A fresh, small scikit-learn classifier of ``family`` (a Pipeline with a scaler where it matters)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    if family == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=1.0))
    if family == "svm":
        return make_pipeline(StandardScaler(), SVC(kernel="rbf", C=1.0, gamma="scale"))
    if family == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))
    if family == "tree":
        return DecisionTreeClassifier(random_state=seed)
    if family == "forest":
        return RandomForestClassifier(n_estimators=50, random_state=seed, n_jobs=1)
    if family == "mlp":
        return make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(128,), max_iter=200,
                                                             early_stopping=False, random_state=seed))
    raise GanforgeError(f"unknown classifier family {family!r}; choose from {', '.join(IMAGE_FAMILIES)}.")


def _subsample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).permutation(n)[:limit])


def _scores(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict:
    from sklearn.metrics import f1_score

    average = "binary" if num_classes == 2 else "macro"
    f1 = f1_score(y_true, y_pred, average=average, labels=None if num_classes == 2 else list(range(num_classes)),
                  zero_division=0)
    per_class = [float((y_pred[y_true == c] == c).mean()) if np.any(y_true == c) else float("nan")
                 for c in range(num_classes)]
    return {"accuracy": float((y_true == y_pred).mean()), "f1": float(f1), "per_class": per_class}


def _fit_predict_sklearn(family, x_train, y_train, x_test, seed, max_train, max_svm):
    limit = min(max_train, max_svm) if family == "svm" else max_train
    idx = _subsample(len(x_train), limit, seed)
    xs, ys = x_train[idx], y_train[idx]
    if len(np.unique(ys)) < 2:  # a collapsed generator: every classifier can only predict that class
        return np.full(len(x_test), ys[0] if len(ys) else 0)
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # capped iterations are part of the protocol
        return make_estimator(family, seed).fit(xs, ys).predict(x_test)


def _fit_predict_cnn(x_train_u8, y_train, x_test_u8, num_classes, seed, max_train, steps=None):
    """The small torch CNN of ganforge.classifiers, trained from scratch (temporary cache: nothing kept)."""
    from ganforge.classifiers import pretrained, predict_logits
    from ganforge.data.base import Dataset

    idx = _subsample(len(x_train_u8), max_train, seed)
    train = Dataset("synthetic", torch.as_tensor(x_train_u8[idx]), torch.as_tensor(y_train[idx]), num_classes)
    with tempfile.TemporaryDirectory() as tmp:
        model = pretrained(train, "cnn", cache_dir=tmp, seed=seed, steps=steps)
    test = Dataset("test", torch.as_tensor(x_test_u8), None, num_classes)
    return predict_logits(model, test).argmax(1).numpy()


def classifier_scores(x_train, y_train, x_test, y_test, num_classes: int, families=SKLEARN_FAMILIES,
                      seed: int = 0, images=None, max_train: int = MAX_TRAIN, max_svm: int = MAX_SVM,
                      cnn_steps: int | None = None) -> dict:
    """{family: {"accuracy", "f1", "per_class", "seconds"}} of each family trained on (x_train, y_train).

    x_*: float arrays (N, D) in model space. ``images``: (train_u8, test_u8) uint8 (N, C, H, W) arrays,
    needed by the ``cnn`` family only; ``cnn_steps``: its training steps (default: ganforge.classifiers')."""
    y_train, y_test = np.asarray(y_train, dtype=np.int64), np.asarray(y_test, dtype=np.int64)
    x_train = np.asarray(x_train, dtype=np.float32).reshape(len(y_train), -1)
    x_test = np.asarray(x_test, dtype=np.float32).reshape(len(y_test), -1)
    out = {}
    for family in families:
        start = time.perf_counter()
        if family == "cnn":
            if images is None:
                raise GanforgeError("the 'cnn' family needs image data; drop it for vector data.")
            pred = _fit_predict_cnn(images[0], y_train, images[1], num_classes, seed, max_train, cnn_steps)
        else:
            pred = _fit_predict_sklearn(family, x_train, y_train, x_test, seed, max_train, max_svm)
        out[family] = {**_scores(y_test, np.asarray(pred), num_classes),
                       "seconds": round(time.perf_counter() - start, 3)}
    return out


def synthetic_labels(real_labels: torch.Tensor, num_classes: int, mode: str = "real", seed: int = 0) -> torch.Tensor:
    """Labels of the synthetic set: the real per-class counts ("real") or equal counts ("balanced"), shuffled."""
    n = len(real_labels)
    if mode == "real":
        labels = torch.sort(real_labels.cpu().long()).values
    elif mode == "balanced":
        labels = torch.arange(n) % num_classes
    else:
        raise GanforgeError(f"unknown label mode {mode!r} for compatibility; use 'real' or 'balanced'.")
    return labels[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]


# --------------------------------------------------------------------------------------------
# the whole protocol
# --------------------------------------------------------------------------------------------
def _as_generator(generator):
    if isinstance(generator, (str, os.PathLike)):
        from ganforge.pretrained import TrainedGenerator

        return TrainedGenerator.from_path(generator)
    return generator


def _cache_path(key_src: dict) -> Path:
    from ganforge.classifiers import cache_root

    key = hashlib.sha256(json.dumps(key_src, sort_keys=True).encode()).hexdigest()[:20]
    return cache_root() / "compatibility" / f"trtr-{key}.json"


def real_scores(train, test, families, seed: int = 0, max_train: int = MAX_TRAIN, max_svm: int = MAX_SVM,
                use_cache: bool = True, cnn_steps: int | None = None) -> dict:
    """TRTR: each family trained on the real training split; cached (it depends only on the data)."""
    from ganforge.classifiers import dataset_fingerprint

    key_src = {"train": dataset_fingerprint(train), "test": dataset_fingerprint(test), "families": list(families),
               "seed": seed, "max_train": max_train, "max_svm": max_svm, "cnn_steps": cnn_steps, "v": CACHE_VERSION}
    path = _cache_path(key_src)
    if use_cache and path.is_file():
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key_src:
                return cached["scores"]
        except (OSError, ValueError):
            pass  # unreadable cache entry: recompute and overwrite
    images = (train.x.numpy(), test.x.numpy()) if train.kind == "image" else None
    scores = classifier_scores(train.to_model(train.x).numpy(), train.y.numpy(), test.to_model(test.x).numpy(),
                               test.y.numpy(), train.num_classes, families, seed, images, max_train, max_svm,
                               cnn_steps)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key_src, "scores": scores}, indent=1))
        os.replace(tmp, path)
    return scores


def evaluate_compatibility(generator, train, test, families=None, labels: str = "real", seed: int = 0,
                           max_train: int = MAX_TRAIN, max_svm: int = MAX_SVM, use_cache: bool = True,
                           cnn_steps: int | None = None) -> dict:
    """TSTR vs TRTR of a class-conditional generator on the real (train, test) splits.

    ``generator``: a run folder / checkpoint path, or an object with ``num_classes`` and
    ``sample_with_labels(n, seed=, labels=) -> (x_model_space, y)`` (``ganforge.load``'s result).
    ``families``: default all sklearn families, plus ``cnn`` for images. Returns a JSON-able dict:
    ``tstr`` / ``trtr`` / ``ratio`` (accuracy per family), ``tstr_f1`` / ``trtr_f1``, ``tstr_mean``,
    ``trtr_mean``, ``compatibility`` (= tstr_mean / trtr_mean) and, for images, ``cas`` (the CNN's TSTR
    accuracy) with ``cas_per_class`` and the real-data reference ``cas_real_per_class``.
    """
    start = time.perf_counter()
    generator = _as_generator(generator)
    if getattr(train, "y", None) is None or getattr(test, "y", None) is None or not train.num_classes:
        raise GanforgeError(f"model compatibility needs labelled data; dataset {train.name!r} has no labels.")
    if not getattr(generator, "num_classes", 0):
        raise GanforgeError(
            "model compatibility (TSTR) needs a class-conditional generator: an unconditional generator's samples "
            "have no labels to train classifiers on. Train a conditional recipe (e.g. --recipe cgan) on this data.")
    if generator.num_classes != train.num_classes:
        raise GanforgeError(f"the generator has {generator.num_classes} classes but dataset {train.name!r} has "
                            f"{train.num_classes}; evaluate it on the data it was trained on.")
    image = train.kind == "image"
    families = list(families or (IMAGE_FAMILIES if image else SKLEARN_FAMILIES))
    if "cnn" in families and not image:
        raise GanforgeError("the 'cnn' compatibility family needs image data; drop it for vector data.")

    y_syn = synthetic_labels(train.y, train.num_classes, labels, seed)
    x_syn, _ = generator.sample_with_labels(len(y_syn), seed=seed, labels=y_syn)
    x_syn = x_syn.detach().float().cpu()
    images = None
    if image:  # the same uint8 path as the real images (a user's saved samples would take it too)
        syn_u8 = train.from_model(x_syn)
        x_syn = train.to_model(syn_u8)
        images = (syn_u8.numpy(), test.x.numpy())
    if not torch.isfinite(x_syn).all():
        raise GanforgeError("the generator produced NaN/Inf samples; it diverged, evaluate an earlier checkpoint.")

    tstr = classifier_scores(x_syn.numpy(), y_syn.numpy(), test.to_model(test.x).numpy(), test.y.numpy(),
                             train.num_classes, families, seed, images, max_train, max_svm, cnn_steps)
    trtr = real_scores(train, test, families, seed, max_train, max_svm, use_cache, cnn_steps)
    result = {
        "families": families, "label_mode": labels, "n_synthetic": len(y_syn), "n_test": len(test.y), "seed": seed,
        "tstr": {f: tstr[f]["accuracy"] for f in families}, "trtr": {f: trtr[f]["accuracy"] for f in families},
        "tstr_f1": {f: tstr[f]["f1"] for f in families}, "trtr_f1": {f: trtr[f]["f1"] for f in families},
    }
    result["ratio"] = {f: _ratio(result["tstr"][f], result["trtr"][f]) for f in families}
    result["tstr_mean"] = float(np.mean(list(result["tstr"].values())))
    result["trtr_mean"] = float(np.mean(list(result["trtr"].values())))
    result["compatibility"] = _ratio(result["tstr_mean"], result["trtr_mean"])
    if "cnn" in families:
        result["cas"] = tstr["cnn"]["accuracy"]
        result["cas_per_class"] = tstr["cnn"]["per_class"]
        result["cas_real_per_class"] = trtr["cnn"]["per_class"]
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


# --------------------------------------------------------------------------------------------
# the registered metric: `ganforge eval RUN --metrics compatibility`, evaluate(..., ["compatibility"])
# --------------------------------------------------------------------------------------------
from ganforge.metrics import METRICS  # noqa: E402  (the package imports this module after METRICS exists)


@METRICS.register("compatibility")
def compatibility_metric(ctx) -> dict[str, float]:
    """TSTR/TRTR through the metrics registry. Needs ``ctx.generator`` (a conditional generator),
    ``ctx.train_dataset`` (real training split) and ``ctx.dataset`` (the held-out real split).
    Options: ``compat_families`` (comma list), ``compat_labels`` (real|balanced), ``compat_cnn_steps``, ``seed``."""
    if ctx.generator is None or not hasattr(ctx.generator, "sample_with_labels"):
        raise GanforgeError("the 'compatibility' metric draws its own labelled samples: evaluate a run "
                            "(`ganforge eval RUN --metrics compatibility`) or pass generator= to evaluate().")
    train, test = ctx.train_dataset, ctx.dataset
    if train is None or test is None:
        raise GanforgeError("the 'compatibility' metric needs the real training split (train_dataset=) and a "
                            "held-out real split (the reference, e.g. --reference test).")
    if train is test or (len(train.x) == len(test.x) and torch.equal(train.x, test.x)):
        raise GanforgeError("the 'compatibility' metric tests on held-out real data; use the test split as the "
                            "reference (--reference test), not the training split.")
    opts = ctx.options
    families = opts.get("compat_families")
    if isinstance(families, str):
        families = [f.strip() for f in families.split(",") if f.strip()]
    steps = opts.get("compat_cnn_steps")
    result = evaluate_compatibility(ctx.generator, train, test, families=families,
                                    labels=str(opts.get("compat_labels", "real")), seed=int(opts.get("seed", 0)),
                                    cnn_steps=int(steps) if steps else None, use_cache=bool(opts.get("cache", True)))
    flat = {"compatibility": result["compatibility"], "tstr_mean": result["tstr_mean"],
            "trtr_mean": result["trtr_mean"]}
    for family in result["families"]:
        flat[f"tstr_{family}"] = result["tstr"][family]
        flat[f"trtr_{family}"] = result["trtr"][family]
        flat[f"tstr_f1_{family}"] = result["tstr_f1"][family]
    if "cas" in result:
        flat["cas"] = result["cas"]
        flat.update({f"cas_class{c}": v for c, v in enumerate(result["cas_per_class"])})
    return flat
