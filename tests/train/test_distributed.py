"""Distributed data-parallel training: 2 CPU processes with gloo on localhost.

Two multi-process launches keep the suite cheap (each process imports torch). A
``torch.multiprocessing.spawn`` run checks the maths: averaged DDP gradients == one process on the
union batch (D loss with gradient penalty, lazy R1, G loss), and replicas stay identical through the
real Trainer, also after resuming with 2 processes. A ``torchrun`` run checks the command line:
WGAN-GP trains and checkpoints on 2 processes, then 1 process resumes that run.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import ganforge
from ganforge.config import make_config
from ganforge.data import Batch, load_dataset
from ganforge.errors import GanforgeError
from ganforge.recipes import RECIPES
from ganforge.train import distributed
from ganforge.train.callbacks import Callback
from ganforge.train.checkpoint import latest_checkpoint

WORLD = 2
PER_RANK = 16
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _localhost_env(port: int) -> dict[str, str]:
    # A broken collective fails the test within a minute instead of hanging for torch's 30.
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1", "GANFORGE_DIST_TIMEOUT": "60"}
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"  # gloo stays on the loopback interface
    return env


def _math_config(**kw):
    # Vanilla GAN: MLPs without batch norm, so per-sample losses make rank shards exactly separable.
    base = dict(recipe="vanilla", data="toy-ring", options={"n_samples": 1024}, g_width=32, d_width=32, z_dim=8,
                batch_size=PER_RANK, gp_weight=10.0, r1_gamma=1.0, r1_interval=1, device="cpu", seed=0)
    return make_config({**base, **kw})


def _union_inputs(cfg):
    g = torch.Generator().manual_seed(123)
    n = PER_RANK * WORLD
    return torch.randn(n, 2, generator=g), torch.randn(n, cfg.z_dim, generator=g), torch.rand(n, 1, generator=g)


def _phase_gradients(recipe, real, z, eps) -> dict[str, torch.Tensor]:
    """Gradients of one D phase (loss + gradient penalty), one lazy R1 phase and one G phase, with the
    random inputs pinned: latents ``z`` and the penalty's interpolation weights ``eps``."""
    recipe.latent = lambda n, generator=None: z
    batch, grads, nets = Batch(real, None), {}, recipe.nets
    original_rand = torch.rand
    torch.rand = lambda *shape, **kw: eps.clone()  # gradient_penalty draws eps with torch.rand
    try:
        phases = {phase.name: phase for phase in recipe.phases()}
        for tag, network, loss_fn in (("D", "discriminator", recipe.discriminator_phase),
                                      ("R1", "discriminator", recipe.discriminator_regularizer),
                                      ("G", "generator", recipe.generator_phase)):
            phase = phases["D_reg" if tag == "R1" else tag]  # trainable as the trainer makes them in that phase
            distributed.set_trainable(recipe, (network,) + phase.keep_trainable)
            for net in nets.values():
                net.zero_grad(set_to_none=True)
            loss, _ = loss_fn(batch, 0)
            loss.backward()
            for name, p in nets[network].named_parameters():
                grads[f"{tag}.{name}"] = p.grad.detach().clone()
            other = "generator" if network == "discriminator" else "discriminator"
            # The frozen network got no weight gradient (so DDP had nothing to all-reduce for it).
            grads[f"{tag}.other_has_grad"] = torch.tensor(any(p.grad is not None for p in nets[other].parameters()))
    finally:
        torch.rand = original_rand
        distributed.set_trainable(recipe, None)
    return grads


def _spawned_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(_localhost_env(port), RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from ganforge.train.trainer import Trainer

    # 1) DDP gradients. Each rank initialises with its own seed: DDP must broadcast rank 0's weights.
    cfg = _math_config()
    torch.manual_seed(cfg.seed + rank)
    info = distributed.init_from_env(cfg.device)
    dataset = load_dataset(cfg, "train")
    recipe = RECIPES.get(cfg.recipe)(cfg, dataset)
    distributed.wrap_recipe(recipe, info, cfg)
    shard = slice(rank * PER_RANK, (rank + 1) * PER_RANK)
    real, z, eps = _union_inputs(cfg)
    save_file(_phase_gradients(recipe, real[shard], z[shard], eps[shard]), f"{out}/grads-{rank}.safetensors")

    # 2) The real Trainer (rank seeds differ, spectral-norm buffers, n_critic 2, R1 every 2 steps), 4 steps
    # then resumed to 6 by the same 2 processes: every replica must hold exactly the same weights and buffers.
    cfg = _math_config(spectral_norm=True, n_critic=2, r1_interval=2, gp_weight=0.0, steps=4, ema_decay=0.99,
                       out=f"{out}/run", log_every=2, checkpoint_every=2, sample_every=0)
    trainer = Trainer(cfg, dataset=dataset)
    before = {k: v.clone() for k, v in trainer.recipe.nets["generator"].state_dict().items()}
    trainer.fit()
    # (compared before resuming too: loading rank 0's checkpoint everywhere would hide unsynced buffers)
    state = {f"fresh.{name}.{k}": v.contiguous() for name, net in trainer.recipe.nets.items()
             for k, v in net.state_dict().items()}
    trainer = Trainer(cfg.replace(steps=6), dataset=dataset, resume=True)
    assert trainer.step == 4
    trainer.fit()
    state.update({f"{name}.{k}": v.contiguous() for name, net in trainer.recipe.nets.items()
                  for k, v in net.state_dict().items()})
    state["changed"] = torch.tensor(any(not torch.equal(before[k], v) for k, v in
                                        trainer.recipe.nets["generator"].state_dict().items()))
    state["has_ema"] = torch.tensor(trainer.ema is not None)
    # 3) A signal reaching only rank 1 (at step 2): both ranks stop together at the next step and checkpoint.
    trainer = Trainer(cfg.replace(steps=50, out=f"{out}/stopped"), dataset=dataset, callbacks=[_SignalRank1()])
    trainer.fit()
    state["stopped_at"] = torch.tensor(trainer.step)
    save_file(state, f"{out}/state-{rank}.safetensors")
    # 4) 20 steps straight == 10 + resume + 10, bit for bit on every rank: each rank draws its own
    # latents and penalty weights, so each rank's RNG state must be checkpointed, not only rank 0's.
    exact = _math_config(steps=20, out=f"{out}/straight", log_every=5, checkpoint_every=10, sample_every=0,
                         deterministic=True, ema_decay=0.0)
    runs = {}
    trainer = Trainer(exact, dataset=dataset, callbacks=[])
    trainer.fit()
    runs["straight"], rng = trainer, {"straight": torch.get_rng_state()}
    Trainer(exact.replace(steps=10, out=f"{out}/halves"), dataset=dataset, callbacks=[]).fit()
    trainer = Trainer(exact.replace(out=f"{out}/halves"), dataset=dataset, callbacks=[], resume=True)
    trainer.fit()
    runs["resumed"], rng["resumed"] = trainer, torch.get_rng_state()
    exact_state = {}
    for tag, t in runs.items():
        exact_state.update({f"{tag}.{name}.{k}": v.contiguous() for name, net in t.recipe.nets.items()
                            for k, v in net.state_dict().items()})
        exact_state.update({f"{tag}.optim.{name}.{i}.{k}": v for name, opt in t.optimizers.items()
                            for i, st in opt.state_dict()["state"].items() for k, v in st.items() if torch.is_tensor(v)})
    exact_state["straight.rng"], exact_state["resumed.rng"] = rng["straight"], rng["resumed"]
    save_file(exact_state, f"{out}/exact-{rank}.safetensors")


class _SignalRank1(Callback):
    def on_step(self, trainer):
        if trainer.dist.rank == 1 and trainer.step == 2:
            trainer.signals._on_signal(signal.SIGTERM, None)


@pytest.fixture(scope="module")
def spawned(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    torch.multiprocessing.spawn(_spawned_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    return out


def test_ddp_gradients_equal_one_process_on_the_union_batch(spawned):
    cfg = _math_config()
    torch.manual_seed(cfg.seed)  # rank 0's initial weights, which DDP broadcast to every rank
    recipe = RECIPES.get(cfg.recipe)(cfg, load_dataset(cfg, "train"))
    reference = _phase_gradients(recipe, *_union_inputs(cfg))
    for rank in range(WORLD):
        grads = load_file(str(spawned / f"grads-{rank}.safetensors"))
        assert grads.keys() == reference.keys()
        for key, value in reference.items():
            torch.testing.assert_close(grads[key], value, rtol=1e-5, atol=1e-6, msg=lambda m: f"rank {rank} {key}: {m}")
    assert not any(reference[f"{tag}.other_has_grad"] for tag in ("D", "R1", "G"))


def test_replicas_stay_identical_through_the_trainer(spawned):
    states = [load_file(str(spawned / f"state-{rank}.safetensors")) for rank in range(WORLD)]
    assert bool(states[0]["changed"]) and bool(states[1]["changed"])
    assert bool(states[0]["has_ema"]) and not bool(states[1]["has_ema"])  # EMA on rank 0 only
    assert any(key.startswith("fresh.") and key.endswith("_u") for key in states[0])  # spectral-norm power-iteration buffers are compared too
    for key in states[0]:
        if key not in ("changed", "has_ema", "stopped_at"):
            assert torch.equal(states[0][key], states[1][key]), key
    meta, tensors = latest_checkpoint(spawned / "run")  # written by rank 0, after resuming with 2 processes
    assert (meta["step"], meta["world_size"], meta["sampler_drawn"]) == (6, 2, 6 * 3 + 6 // 2)  # 2 D + 1 G (+ R1)
    assert torch.equal(tensors["net.generator.main.0.weight"], states[1]["generator.main.0.weight"])
    assert int(states[0]["stopped_at"]) == int(states[1]["stopped_at"]) == 3
    assert json.loads((spawned / "stopped" / "run.json").read_text())["status"] == "interrupted"
    assert latest_checkpoint(spawned / "stopped")[0]["step"] == 3
    assert [json.loads(line)["step"] for line in (spawned / "run" / "metrics.jsonl").read_text().splitlines()] \
        == [2, 4, 6]  # logged on rank 0 only: one line per log step, not one per rank


def test_two_process_resume_is_bit_exact_on_every_rank(spawned):
    for rank in range(WORLD):
        state = load_file(str(spawned / f"exact-{rank}.safetensors"))
        straight = {k[len("straight."):]: v for k, v in state.items() if k.startswith("straight.")}
        assert len(straight) > 8
        for key, value in straight.items():
            assert torch.equal(value, state[f"resumed.{key}"]), f"rank {rank}: {key}"
    meta, tensors = latest_checkpoint(spawned / "halves")
    assert meta["step"] == 20 and {"rng.torch.rank0", "rng.torch.rank1"} <= tensors.keys()
    assert not torch.equal(tensors["rng.torch.rank0"], tensors["rng.torch.rank1"])


TOY_WGAN_GP = ("--recipe", "wgan-gp", "--architecture", "mlp", "--data", "toy-ring", "--options", "{n_samples: 1024}",
               "--g-width", "32", "--d-width", "32", "--z-dim", "8", "--n-critic", "2")


def _torchrun(out: Path, *flags: str, job: tuple[str, ...] = TOY_WGAN_GP) -> subprocess.CompletedProcess:
    port = _free_port()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", f"--nproc_per_node={WORLD}",
           "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "ganforge", "train", *job,
           "--batch-size", str(PER_RANK), "--log-every", "2", "--checkpoint-every", "2", "--sample-every", "0",
           "--device", "cpu", *flags]
    env = {**os.environ, **_localhost_env(port), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(cmd, cwd=out.parent, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_torchrun_trains_wgan_gp_then_resumes_in_1_process(tmp_path):
    run = tmp_path / "run"
    _torchrun(run, "--steps", "4", "--out", str(run))
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["step"] == 4
    assert info["distributed"] == {"world_size": 2, "backend": "gloo", "batch_size_per_rank": PER_RANK,
                                   "global_batch_size": 2 * PER_RANK, "sync_batchnorm": False}
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [2, 4]
    meta, tensors = latest_checkpoint(run)
    assert (meta["step"], meta["world_size"], meta["sampler_drawn"]) == (4, 2, 4 * 3)  # 2 critic + 1 G batch

    # The same run continued by one process: its sampler continues from the same epoch position.
    cfg = make_config({**meta["config"], "steps": 6})
    ganforge.train(cfg, resume=True)
    meta, resumed = latest_checkpoint(run)
    assert (meta["step"], meta["world_size"], meta["sampler_drawn"]) == (6, 1, 4 * 3 * 2 + 2 * 3)
    assert json.loads((run / "run.json").read_text())["distributed"]["world_size"] == 1
    for key, value in resumed.items():
        if key.startswith("net."):
            assert torch.isfinite(value).all(), key
    assert not torch.equal(resumed["net.generator.main.0.weight"], tensors["net.generator.main.0.weight"])


def test_torchrun_trains_a_progressive_recipe_through_its_growth(tmp_path):
    """ProGAN's layers of resolutions not reached yet get no gradient: DDP must be told to expect that
    (``Recipe.partial_forward``), else the second step fails ("Expected to have finished reduction")."""
    run = tmp_path / "run"
    job = ("--recipe", "progan", "--data", "digits",
           "--options", "{fade_kimg: 0.032, stable_kimg: 0.032, fmap_base: 64, fmap_max: 32}")
    _torchrun(run, "--steps", "6", "--out", str(run), job=job)  # 4x4, fade-in to 8x8, 8x8
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["step"] == 6 and info["distributed"]["world_size"] == 2


# -- single-process checks (no process group) ----------------------------------------------------
def test_without_torchrun_everything_is_single_process(monkeypatch):
    for key in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    info = distributed.init_from_env("auto")
    assert not info.enabled and info.world_size == 1
    assert distributed.any_rank(info, True) and not distributed.any_rank(info, False)
    assert distributed.describe(info, make_config({"batch_size": 8}))["global_batch_size"] == 8


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_requested_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(GanforgeError, match="--device cpu"):
        distributed.init_from_env("cuda")


def test_sync_batchnorm_is_refused_where_it_cannot_work():
    cfg = make_config({"recipe": "dcgan", "sync_batchnorm": True, "r1_gamma": 0.0})  # digits' default has R1
    nets = {"discriminator": torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))}
    with pytest.raises(GanforgeError, match="CUDA"):
        distributed.check_sync_batchnorm(cfg, nets, torch.device("cpu"))
    distributed.check_sync_batchnorm(cfg, nets, torch.device("cuda", 0))  # fine on GPUs without a penalty
    with pytest.raises(GanforgeError, match="differentiated twice"):
        distributed.check_sync_batchnorm(cfg.replace(r1_gamma=1.0), nets, torch.device("cuda", 0))
    # A critic without batch norm has nothing to convert: the penalty is fine.
    distributed.check_sync_batchnorm(cfg.replace(gp_weight=10.0), {"discriminator": torch.nn.Linear(2, 1)},
                                     torch.device("cuda", 0))


def test_collective_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("GANFORGE_DIST_TIMEOUT", "90")
    assert distributed._timeout()["timeout"].total_seconds() == 90
    monkeypatch.setenv("GANFORGE_DIST_TIMEOUT", "soon")
    with pytest.raises(GanforgeError, match="GANFORGE_DIST_TIMEOUT"):
        distributed._timeout()
