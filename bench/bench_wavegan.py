"""WaveGAN / cWaveGAN on the spoken digits with WaveGAN's SC09 protocol (``ganforge.metrics.audio``):
Inception score and Fréchet distance on a digit classifier trained here, and, for cWaveGAN, the
classifier's accuracy on the requested digit; next to the real data's scores and the paper's anchors
(Donahue et al., ICLR 2019, SC09: WaveGAN IS 4.7, real data 9.18).

    OMP_NUM_THREADS=1 nice -n 5 python bench/bench_wavegan.py --data-dir ../shared/data/spoken-digits \
        --recipe cwavegan --conditioning aux --rate 1000 --length 1024 --width 16 --batch-size 32 \
        --steps 6500 --every 500 --samples 500 --run /tmp/cwavegan-bench \
        --grid docs/img/cwavegan-1khz-aux-6500steps.png --out bench/results/wavegan.json

(the run of docs/AUDIO.md, ~27 CPU-minutes of training). With --run, SIGINT / SIGTERM stop training after
the current step; the script then still scores the model and writes the JSON (``steps_done``).

The paper's setting is --rate 16000 --length 16384 --width 64 and about 200k steps on a GPU; on a
shared CPU the script is run at a reduced rate / length / width (recorded in the JSON), which is a
smaller task than the paper's: its numbers are not the paper's numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's ganforge, whatever is installed

from ganforge.config import make_config  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.metrics.audio import AudioProtocol  # noqa: E402
from ganforge.train.callbacks import Callback, sampling_nets  # noqa: E402
from ganforge.train.trainer import Trainer  # noqa: E402

ANCHORS = {"paper_wavegan_is_sc09": 4.7, "paper_real_is_sc09": 9.18, "issue_goal_conditional_accuracy": 0.80}


class Protocol(AudioProtocol):
    def __init__(self, train, test):
        super().__init__(train, test)
        self.real = {k: round(v, 4) for k, v in self.real.items()}

    def score(self, recipe, n, nets=None, seed=0):
        return {k: round(v, 4) for k, v in super().score(recipe, n, seed, nets).items()}


class Curve(Callback):
    """Protocol scores every ``every`` steps (their CPU time is subtracted from the training time)."""

    def __init__(self, protocol, every, n, partial=None):
        self.protocol, self.every, self.n, self.points, self.spent = protocol, every, n, [], 0.0
        self.partial = partial

    def on_step(self, trainer):
        if self.every and trainer.step % self.every == 0 and trainer.step < trainer.cfg.steps:
            start = time.process_time()
            self.points.append({"step": trainer.step, **self.protocol.score(trainer.recipe, self.n,
                                                          sampling_nets(trainer))})
            self.spent += time.process_time() - start
            print(json.dumps(self.points[-1]), flush=True)
            if self.partial:  # a long run on a loaded machine leaves its curve behind even if stopped
                Path(self.partial).write_text(json.dumps(self.points, indent=1))


def machine():
    info = open("/proc/cpuinfo").read()
    flags = sorted(set(re.findall(r"\b(avx512_bf16|amx_bf16|avx512f|avx2)\b", info)))
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    return {"cpu": model, "flags": flags, "cores": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
            "torch": torch.__version__, "python": platform.python_version(),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                     cwd=ROOT).stdout.strip(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", required=True)
    p.add_argument("--recipe", default="cwavegan", choices=("wavegan", "cwavegan"))
    p.add_argument("--rate", type=int, default=16000)
    p.add_argument("--length", type=int, default=16384)
    p.add_argument("--width", type=int, default=64, help="model size d of G and D")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--conditioning", default=None, choices=("aux", "projection"),
                   help="cwavegan: how D uses the digit (default: the recipe's, aux)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--every", type=int, default=0, help="protocol scores every N steps (0: only the ends)")
    p.add_argument("--samples", type=int, default=1000, help="generated clips scored at the end")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run", default=None, help="run folder (kept, for `ganforge sample`); default: none")
    p.add_argument("--resume", action="store_true", help="continue the run in --run up to --steps")
    p.add_argument("--grid", default=None, help="write a spectrogram grid of the final samples here")
    p.add_argument("--out", default=None, help="append the result to this JSON file")
    a = p.parse_args()
    torch.set_num_threads(1)
    options = {"sample_rate": a.rate, "length": a.length}
    if a.conditioning:
        options["conditioning"] = a.conditioning
    cfg = make_config({"recipe": a.recipe, "data_dir": a.data_dir, "seed": a.seed, "steps": a.steps,
                       "options": options, "g_width": a.width, "precision": a.precision, "threads": 1,
                       "d_width": a.width,
                       "batch_size": a.batch_size, "device": "cpu", "sample_every": 0,
                       "checkpoint_every": 0, "log_every": 100, "out": a.run})
    train, test = load_dataset(cfg, "train"), load_dataset(cfg, "test")
    start = time.process_time()
    protocol = Protocol(train, test)
    classifier_cpu = time.process_time() - start
    print(json.dumps(protocol.real), flush=True)
    curve = Curve(protocol, a.every, min(a.samples, 500), a.out and a.out + ".partial")
    trainer = Trainer(cfg, run_dir=a.run, dataset=train, extra_callbacks=[curve], resume=a.resume) if a.run else \
        Trainer(cfg, run_dir=None, dataset=train, callbacks=[curve])
    # the control: the same check at step 0 (None when resuming: the networks are no longer untrained)
    untrained = None if a.resume else protocol.score(trainer.recipe, a.samples)
    load_at_start = round(os.getloadavg()[0], 2)
    cpu, wall = time.process_time(), time.time()
    trainer.fit()
    cpu, wall = time.process_time() - cpu - curve.spent, time.time() - wall
    final = protocol.score(trainer.recipe, a.samples, sampling_nets(trainer))
    if a.grid:
        from ganforge.utils.audio import save_spectrogram_grid

        shown = trainer.recipe.sample(20, seed=1, nets=sampling_nets(trainer))  # conditional: digits 0..9 twice
        save_spectrogram_grid(shown.x, a.grid, a.rate, nrow=10)
    command = "python bench/bench_wavegan.py " + " ".join(sys.argv[1:])
    result = {"recipe": a.recipe, "command": command,
              "setting": {"sample_rate": a.rate, "length": a.length, "model_size_d": a.width,
                          "batch_size": a.batch_size, "steps": a.steps, "steps_done": trainer.step,
                          # SIGTERM stops training cleanly (checkpoint) and still scores
                          "stopped_early": trainer.stop_signal is not None,
                          "conditioning": getattr(trainer.recipe.options, "conditioning", None),
                          "precision": trainer.precision, "seed": a.seed, "resumed": a.resume,
                          "n_critic": cfg.n_critic, "lr": cfg.lr_g, "betas": [cfg.beta1, cfg.beta2],
                          "gp_weight": cfg.gp_weight, "samples_scored": a.samples,
                          "paper_setting": a.rate == 16000 and a.length == 16384 and a.width == 64},
              "final": final, "untrained": untrained, "real": protocol.real, "anchors": ANCHORS,
              "curve": curve.points, "train_cpu_s": round(cpu, 1), "train_wall_s": round(wall, 1),
              "classifier_cpu_s": round(classifier_cpu, 1),
              "machine": {**machine(), "load_average_1min_at_start": load_at_start}}
    print(json.dumps({k: result[k] for k in ("final", "untrained", "real", "train_cpu_s")}), flush=True)
    if a.out:
        old = json.load(open(a.out)) if os.path.exists(a.out) else []
        with open(a.out, "w") as f:
            json.dump(old + [result], f, indent=1)


if __name__ == "__main__":
    main()
