"""SeqGAN benchmark: the synthetic-oracle protocol of Yu et al. (2017), and real text (fortunes).

    python bench/bench_seqgan.py                    # the paper's oracle protocol in full (CPU: many hours)
    python bench/bench_seqgan.py --pretrain-epochs 10 --d-pretrain-rounds 3 --d-negatives 1024 --d-epochs 1 \\
        --budget-minutes 45                         # what a shared CPU allows (bench/results/seqgan-oracle.json)
    python bench/bench_seqgan.py --task text --data-dir ../shared/data/text --budget-minutes 25

Oracle protocol (the paper's sizes): a random LSTM oracle (vocabulary 5,000, embedding / hidden 32,
N(0, 1) parameters, seed ``--oracle-seed``) draws 10,000 training sequences of 20 tokens. SeqGAN:
``--pretrain-epochs`` epochs of MLE (paper 120), ``--d-pretrain-rounds`` D rounds (paper 50), then
adversarial steps (paper 200; ``--adversarial-steps``) each with ``--d-rounds`` (5) D rounds of
``--d-epochs`` (3) epochs on ``--d-negatives`` fresh negatives (paper: 10,000 = all the data) and
16 rollouts. Score: oracle NLL (mean per-token NLL of ``--eval-samples`` generated sequences under
the oracle; the paper: 10,000) for the untrained G ("random"), the MLE-pretrained G ("MLE", the
SeqGAN starting point) and SeqGAN after each ``--eval-every`` adversarial steps; with the NLL-test
(G's NLL of 2,000 held-out oracle sequences) as the diversity side. The MLE-with-temperature
baseline (Caccia et al. 2020) samples the pretrained G at ``--temperatures``. The paper's oracle
gives 10.310 / 9.038 / 8.736 (random / MLE / SeqGAN); ours is another seeded draw, so compare trends.

Text: ``--task text`` trains the generator (emb 64, hidden 128) on the fortunes by MLE, then SeqGAN's
D pre-training and adversarial steps (a smaller D: widths 1-5, 64 maps each), and scores BLEU-2..4
against the test lines and self-BLEU-2..4 among 1,000 generated lines for random / MLE at each
temperature / SeqGAN.

``--budget-minutes`` stops the adversarial stage when the wall-clock budget is spent (the JSON says
how many steps ran). Results are written after every evaluation, so a stopped run keeps its numbers.
Every run uses one torch thread (the machine is shared); loadavg is recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.data.text import decode_tokens, detokenize, oracle_of  # noqa: E402
from ganforge.metrics.text import corpus_bleu, model_nll, oracle_nll, self_bleu  # noqa: E402
from ganforge.train.callbacks import Callback  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402

PAPER = {"random": 10.310, "mle": 9.038, "seqgan": 8.736}


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return sorted(f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "amx", "fma")))
    except OSError:
        pass
    return []


class Evaluate(Callback):
    """Scores G before training, at the end of MLE pre-training (with the temperature sweep), and every
    ``every`` adversarial steps; stops the run when the wall-clock budget is spent."""

    def __init__(self, args, result, score):
        self.args, self.result, self.score = args, result, score
        self.start = time.time()

    def save(self):
        self.result["loadavg_last"] = loadavg()
        self.result["wall_seconds"] = round(time.time() - self.start, 1)
        self.result["cpu_seconds"] = round(time.process_time(), 1)
        Path(self.args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(self.args.out).write_text(json.dumps(self.result, indent=2) + "\n")

    def on_start(self, trainer):
        self.result["random"] = self.score(trainer.recipe, 1.0)
        self.save()

    def on_log(self, trainer, logs):
        self.result.setdefault("logs", []).append({"step": trainer.step, **{k: round(v, 4) for k, v in logs.items()}})

    def on_step(self, trainer):
        recipe, step = trainer.recipe, trainer.step
        if step == recipe.options.pretrain_steps:
            self.result["mle"] = {f"T={t}": self.score(recipe, t) for t in self.args.temperatures}
            self.save()
        adversarial = step - recipe.adversarial_start
        over = time.time() - self.start > self.args.budget_minutes * 60
        if adversarial > 0 and (adversarial % self.args.eval_every == 0 or step == trainer.cfg.steps or over):
            self.result.setdefault("seqgan", []).append({"adversarial_steps": adversarial, **self.score(recipe, 1.0)})
            if over or step == trainer.cfg.steps:
                self.result["seqgan_final"] = {f"T={t}": self.score(recipe, t) for t in self.args.temperatures}
                self.result["stopped_by_budget"] = bool(over and step < trainer.cfg.steps)
                trainer.cfg.steps = step  # ends the loop after this step (a benchmark's budget, not a feature)
            self.save()


def oracle_scorer(args, dataset, test):
    oracle = oracle_of(dataset.meta)

    def score(recipe, temperature):
        x = recipe.sample(args.eval_samples, seed=123, temperature=temperature).x
        return {"oracle_nll": round(oracle_nll(oracle, x), 4),
                "nll_test": round(model_nll(recipe.nets["generator"], test.x, temperature), 4)}
    return score


def text_scorer(args, dataset, test):
    references = decode_tokens(test.meta, test.x)

    def score(recipe, temperature):
        x = recipe.sample(args.eval_samples, seed=123, temperature=temperature).x
        sentences = decode_tokens(dataset.meta, x)
        bleu, selfb = corpus_bleu(sentences, references), self_bleu(sentences)
        return {**{f"bleu{n}": round(v, 4) for n, v in bleu.items()},
                **{f"self_bleu{n}": round(v, 4) for n, v in selfb.items()},
                "nll_test": round(model_nll(recipe.nets["generator"], test.x, temperature), 4),
                "examples": [detokenize(dataset.meta, s) for s in sentences[:8]]}
    return score


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=("oracle", "text"), default="oracle")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "text"))
    p.add_argument("--oracle-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pretrain-epochs", type=int, default=120)
    p.add_argument("--d-pretrain-rounds", type=int, default=50)
    p.add_argument("--adversarial-steps", type=int, default=200)
    p.add_argument("--d-rounds", type=int, default=5)
    p.add_argument("--d-epochs", type=int, default=3)
    p.add_argument("--d-negatives", type=int, default=0, help="0: as many as the data (the paper)")
    p.add_argument("--rollouts", type=int, default=16)
    p.add_argument("--eval-samples", type=int, default=10_000)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--temperatures", type=lambda s: [float(v) for v in s.split(",")], default=[1.0, 0.9, 0.8, 0.7])
    p.add_argument("--budget-minutes", type=float, default=1e9)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    args.out = args.out or str(ROOT / "bench" / "results" / f"seqgan-{args.task}.json")
    torch.set_num_threads(1)
    options = {"d_pretrain_steps": args.d_pretrain_rounds, "d_rounds": args.d_rounds, "d_epochs": args.d_epochs,
               "d_negatives": args.d_negatives, "rollouts": args.rollouts}
    if args.task == "oracle":
        base = {"recipe": "seqgan", "data": "oracle", "options": {"oracle_seed": args.oracle_seed, **options}}
    else:
        options.update(emb_dim=64, hidden_dim=128, d_filter_sizes=[1, 2, 3, 4, 5], d_num_filters=[64] * 5)
        base = {"recipe": "seqgan", "data": "text", "data_dir": args.data_dir, "options": options}
    probe = make_config({**base, "steps": 1})
    dataset, test = load_dataset(probe, "train"), load_dataset(probe, "test")
    pretrain = args.pretrain_epochs * (len(dataset) // 64)
    cfg = make_config({**base, "seed": args.seed, "steps": pretrain + args.d_pretrain_rounds + args.adversarial_steps,
                       "log_every": 100, "options": {**base["options"], "pretrain_steps": pretrain}})
    result = {"task": args.task, "protocol": vars(args), "pretrain_steps": pretrain, "paper_oracle": PAPER,
              "train_sequences": len(dataset), "test_sequences": len(test), "machine": {
                  "cpus": os.cpu_count(), "cpu_flags": cpu_flags(), "torch": torch.__version__,
                  "python": platform.python_version(), "torch_threads": 1, "loadavg_start": loadavg(),
                  "note": "shared 2-core machine, loaded by other sessions; see loadavg"},
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    scorer = (oracle_scorer if args.task == "oracle" else text_scorer)(args, dataset, test)
    if args.task == "oracle":
        result["oracle_data_nll"] = round(oracle_nll(oracle_of(dataset.meta), dataset.x), 4)
    evaluate = Evaluate(args, result, scorer)
    Trainer(cfg, run_dir=None, callbacks=[evaluate], dataset=dataset).fit()
    evaluate.save()
    print(json.dumps({k: v for k, v in result.items() if k not in ("logs", "machine", "protocol")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
