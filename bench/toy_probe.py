"""One mode-collapse run with probes (screening, not the benchmark): the protocol every EVERY steps on the
trainer's EMA generator, on the raw generator and on extra EMA copies of other decays (kept by a callback;
their update time, like the probes', is taken out of the CPU seconds).

    python bench/toy_probe.py DATA SEED '{yaml overrides}' EVERY [DECAY,DECAY,...]
"""
import json, sys, time

import torch

torch.set_num_threads(1)
import yaml

from bench_toy_protocol import QUIET, protocol
from ganforge.config import make_config
from ganforge.train.callbacks import Callback, sampling_module
from ganforge.train.ema import EMA
from ganforge.train.trainer import Trainer


def metrics(trainer, module):
    m = protocol(trainer, module=module)[1]  # the benchmark's 2,500 samples and seed
    return [int(m["modes"]), round(100 * m["high_quality"], 1), round(m["reverse_kl"], 4)]


class Probes(Callback):
    def __init__(self, every, decays):
        self.every, self.decays, self.points, self.spent, self.emas = every, decays, [], 0.0, None

    def probe(self, trainer):
        g = trainer.recipe.nets["generator"]
        point = {"step": trainer.step, "ema": metrics(trainer, sampling_module(trainer)), "raw": metrics(trainer, g)}
        point.update({f"ema{d}": metrics(trainer, e.model) for d, e in self.emas.items()})
        return point

    def on_step(self, trainer):
        t = time.process_time()
        g = trainer.recipe.nets["generator"]
        if self.emas is None:
            self.emas = {d: EMA(g, d) for d in self.decays}
        for e in self.emas.values():
            e.update(g, trainer.step - 1)
        if self.every and trainer.step % self.every == 0:
            self.points.append(self.probe(trainer))
        self.spent += time.process_time() - t


if __name__ == "__main__":
    data, seed, overrides = sys.argv[1], int(sys.argv[2]), yaml.safe_load(sys.argv[3]) if len(sys.argv) > 3 else {}
    every = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    decays = [float(d) for d in sys.argv[5].split(",")] if len(sys.argv) > 5 else []
    cfg = make_config({**QUIET, "data": data, "seed": seed, **overrides})
    probes = Probes(every, decays)
    trainer = Trainer(cfg, run_dir=None, callbacks=[probes])
    t = time.process_time()
    trainer.fit()
    cpu = time.process_time() - t - probes.spent
    if not probes.points or probes.points[-1]["step"] != cfg.steps:
        probes.points.append(probes.probe(trainer))
    print(json.dumps({"data": data, "seed": seed, "overrides": overrides, "cpu_s": round(cpu, 1),
                      "final": probes.points[-1], "curve": probes.points}), flush=True)
