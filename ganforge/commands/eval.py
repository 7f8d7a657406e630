"""Evaluate a trained run, or compare two sets of samples, with FID/KID/IS/PR/DC/mode metrics.

Prints a table; --json prints one JSON object on the last line (keys = metric names). With RUN,
the results are also written to RUN/metrics.json. Protocol and resize convention: docs/METRICS.md.

examples:
  ganforge eval runs/dcgan-digits --metrics fid,kid,pr,dc
  ganforge eval runs/dcgan-fashion-mnist --extractor inception --samples 10000 --reference test
  ganforge eval runs/gan-toy-ring --metrics modes --samples 2500
  ganforge eval runs/stackgan --metrics r_precision,fid --extractor inception --matcher runs/matcher
  ganforge eval --real real_pngs/ --fake fake.npz --extractor inception --json
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ganforge.commands.common import check_device, check_seed
from ganforge.errors import GanforgeError
from ganforge.utils.files import check_output_file

HELP = "evaluate a run (or two sample folders/.npz files) with FID, KID, IS, precision/recall, ..."
MAX_SAMPLES = 1_000_000


def add_arguments(p):
    p.add_argument("run", nargs="?", metavar="RUN_OR_CHECKPOINT", help="run folder or checkpoint to evaluate")
    p.add_argument("--metrics", default="fid,kid,pr,dc", help="comma-separated: fid, kid, is, pr, dc, modes, ... "
                   "[default: fid,kid,pr,dc]")
    p.add_argument("--extractor", default="classifier", help="feature extractor: classifier or inception "
                   "[default: classifier]")
    p.add_argument("--samples", type=int, default=10_000, help="generated samples [default: 10000]")
    p.add_argument("--real-samples", type=int, default=None,
                   help="real samples (a fixed seeded subset) [default: as many as --samples]")
    p.add_argument("--reference", choices=("test", "train"), default="test", help="real split [default: test]")
    p.add_argument("--real", help="folder of images or .npz of real samples (instead of a run's data)")
    p.add_argument("--fake", help="folder of images or .npz of generated samples (instead of RUN)")
    p.add_argument("--data", help="with --real/--fake and --extractor classifier: the dataset whose training "
                   "split trains the classifier (e.g. fashion-mnist)")
    p.add_argument("--data-dir", help="directory of --data's files (default: $GANFORGE_DATA)")
    p.add_argument("--inception-weights", help="Inception weights file (default: $GANFORGE_INCEPTION, the cache)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="inception extractor precision: auto = bf16 where the hardware runs it natively "
                   "(AVX512-BF16/AMX CPUs, bf16 GPUs), else fp32; use fp32 for numbers you publish [default: auto]")
    p.add_argument("--trust-extractor", action="store_true",
                   help="load an Inception TorchScript file whose sha256 is not the official one "
                   "(torch.jit.load runs code from the file: only for files you trust)")
    p.add_argument("--batch-size", type=int, default=50, help="extraction batch size [default: 50]")
    p.add_argument("--seed", type=int, default=0, help="sampling / subset seed [default: 0]")
    p.add_argument("--device", default="cpu")
    p.add_argument("--baseline", choices=("identity", "mean", "bicubic", "fill"), default=None, help="translation runs: "
                   "score the identity map, the mean training target, (super-resolution) bicubic upsampling or "
                   "(inpainting) holes filled with the mean training image "
                   "instead of the model (for comparison)")
    p.add_argument("--matcher", metavar="RUN", help="text-to-image runs: the image-text matching model (a --recipe "
                   "text-encoder run) that scores r_precision")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object on the last line")


def _check_count(name: str, value):
    if value is not None and not 2 <= value <= MAX_SAMPLES:
        raise GanforgeError(f"{name} must be between 2 and {MAX_SAMPLES}, got {value}.")


def _compare_files(args, options: dict):
    from ganforge.metrics import evaluate
    from ganforge.metrics.files import load_samples

    if not (args.real and args.fake):
        raise GanforgeError("give both --real and --fake (folders of images or .npz files), or a RUN folder.")
    if args.data:
        from ganforge.config import make_config
        from ganforge.data import load_dataset

        cfg = make_config({"data": args.data, **({"data_dir": args.data_dir} if args.data_dir else {})})
        options["train_dataset"] = load_dataset(cfg, "train")
    real = load_samples(args.real, args.real_samples)
    fake = load_samples(args.fake, args.samples)
    protocol = {"real": args.real, "fake": args.fake, "n_real": len(real), "n_fake": len(fake)}
    return evaluate(fake, real, args.metrics, extractor=args.extractor, **options), protocol


def _evaluate_run(args, options: dict):
    import ganforge
    from ganforge.data import load_dataset
    from ganforge.metrics import check_extractor, evaluate, parse_metrics

    parse_metrics(args.metrics)  # fail on a typo before loading anything
    gen = ganforge.load(args.run, device=args.device)
    check_extractor(gen.recipe, args.extractor)  # D trained on this network's features: before any sampling
    # The results go to RUN/metrics.json: check that it can be written before any work (data, sampling).
    check_output_file(_run_dir(args.run) / "metrics.json", "results file")
    cfg = gen.config.replace(device=args.device)
    if args.data_dir:
        cfg = cfg.replace(data_dir=args.data_dir)
    reference = load_dataset(cfg, args.reference)
    train = reference if args.reference == "train" else load_dataset(cfg, "train")
    if hasattr(gen.recipe, "eval_pairs"):  # translation: held-out inputs -> outputs vs their ground truth
        from ganforge.metrics.translation import evaluate_translation

        results, protocol = evaluate_translation(gen, reference, train, args.metrics, extractor=args.extractor,
                                                 samples=args.samples, baseline=args.baseline, **options)
        return results, {"run": str(args.run), "step": gen.step, "data": cfg.data, "reference": args.reference,
                         **protocol}
    if args.baseline:
        raise GanforgeError("--baseline is for translation runs (pix2pix, cyclegan, ...).")
    if gen.task == "text":  # text-to-image: one image per held-out caption
        from ganforge.metrics.rprecision import evaluate_text_to_image

        results, protocol = evaluate_text_to_image(gen, reference, args.metrics, matcher=args.matcher,
                                                   samples=args.samples, extractor=args.extractor, **options)
        return results, {"run": str(args.run), "step": gen.step, "data": cfg.data, "reference": args.reference,
                         **protocol}
    fake = gen.sample(args.samples, seed=args.seed)
    results = evaluate(fake, reference, args.metrics, extractor=args.extractor, generator=gen,
                       train_dataset=train, real_samples=args.real_samples or args.samples, **options)
    protocol = {"run": str(args.run), "step": gen.step, "data": cfg.data, "reference": args.reference,
                "n_fake": len(fake), "n_real": min(args.real_samples or args.samples, len(reference))}
    return results, protocol


def _run_dir(run: str) -> Path:
    """The run folder of RUN_OR_CHECKPOINT (a checkpoint file lies in RUN/checkpoints/)."""
    return Path(run) if Path(run).is_dir() else Path(run).parent.parent


def run(args) -> int:
    _check_count("--samples", args.samples)
    _check_count("--real-samples", args.real_samples)
    if args.batch_size < 1:
        raise GanforgeError(f"--batch-size must be at least 1, got {args.batch_size}.")
    check_seed(args.seed)
    args.device = check_device(args.device)
    options = {"precision": args.precision, "batch_size": args.batch_size, "seed": args.seed,
               "device": args.device}
    if args.inception_weights:
        options["inception_weights"] = args.inception_weights
    if args.trust_extractor:
        options["trust_extractor"] = True
    start = time.perf_counter()
    if args.run and (args.real or args.fake):
        raise GanforgeError("give either a RUN to evaluate or --real/--fake files, not both.")
    if args.run:
        results, protocol = _evaluate_run(args, options)
    else:
        results, protocol = _compare_files(args, options)
    precision = args.precision
    if args.extractor == "inception":  # record what ran, not "auto"
        from ganforge.utils.hardware import resolve_precision

        precision = resolve_precision(args.precision, args.device)
    protocol.update(extractor=args.extractor, precision=precision, seed=args.seed,
                    seconds=round(time.perf_counter() - start, 2))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:.6g}")
    print(f"({protocol['n_fake']} generated vs {protocol['n_real']} real samples, extractor {args.extractor}, "
          f"{protocol['seconds']} s)")
    if args.run:
        from ganforge.train.checkpoint import resolve_checkpoint  # noqa: F401  (the run exists: load() passed)
        from ganforge.utils.files import atomic_write_text

        atomic_write_text(_run_dir(args.run) / "metrics.json", json.dumps({**results, "protocol": protocol}, indent=2) + "\n")
    if args.json:
        print(json.dumps(results))
    return 0
