"""Pix2Pix, CycleGAN, StarGAN end to end on tiny image trees: training, checkpoints and exact resume,
grids (input | output | target), ``ganforge sample --input``, ``translate``, ``ganforge eval``."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import ganforge
from ganforge.cli import main
from ganforge.config import make_config
from ganforge.errors import GanforgeError
from ganforge.train.checkpoint import latest_checkpoint
from ganforge.train.trainer import Trainer
from tests.translation.conftest import pattern, save

TINY = dict(steps=4, batch_size=4, g_width=4, d_width=4, image_size=16, sample_every=2, checkpoint_every=2,
            log_every=1, device="cpu", channels_last=False, seed=1)


def _flags(**kw):
    out = []
    for k, v in kw.items():
        out += [f"--{k.replace('_', '-')}", json.dumps(v) if isinstance(v, dict) else str(v)]
    return out


@pytest.fixture
def domain_tree(tmp_path):
    for dom in ("red", "green", "blue"):
        for i in range(8):
            a = np.zeros((16, 16, 3), np.uint8)
            a[..., ("red", "green", "blue").index(dom)] = 100 + 10 * i
            save(tmp_path / "d" / dom / f"{dom}{i}.png", a)
    return tmp_path / "d"


def test_pix2pix_cli_train_sample_eval_and_translate(paired_tree, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--recipe", "pix2pix", "--data-dir", str(paired_tree), "--target", "color",
            "--options", json.dumps({"source": "line"}), "--out", str(run)] + _flags(**TINY)
    assert main(args) == 0
    assert (run / "samples.png").is_file() and (run / "samples" / "step-00000002.png").is_file()
    from PIL import Image

    grid = np.asarray(Image.open(run / "samples.png"))
    assert grid.ndim == 3  # rows input | output | target, 8 per row

    gen = ganforge.load(run)
    test = ganforge.data.load_dataset(gen.config, "test")
    out = gen.translate(test.to_model(test.x))
    assert out.shape == (len(test), 3, 16, 16) and out.abs().max() <= 1
    with pytest.raises(GanforgeError, match="inputs have shape"):
        gen.translate(torch.zeros(2, 3, 8, 8))

    inputs = tmp_path / "in"
    for i in range(3):
        save(inputs / f"x{i}.png", pattern(i, 24, 1))
    assert main(["sample", str(run), "--input", str(inputs), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x0.png", "x1.png", "x2.png"]

    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "l1,psnr,ssim", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(scores) == {"l1", "psnr", "ssim"} and scores["l1"] > 0
    assert main(["eval", str(run), "--metrics", "l1", "--baseline", "identity", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["l1"] > 0
    assert json.loads((run / "metrics.json").read_text())["protocol"]["baseline"] == "identity"
    # FID with the classifier extractor needs labels of the targets: a clear error naming the option
    assert main(["eval", str(run), "--metrics", "fid"]) == 2


def test_pix2pix_needs_paired_data(tmp_path):
    with pytest.raises(GanforgeError, match="pix2pix needs paired data"):
        Trainer(make_config({"recipe": "pix2pix", "data": "digits", "image_size": 8, **TINY}), run_dir=None)


def _tensors(run):
    meta, _ = latest_checkpoint(run)
    return load_file(str(run / "checkpoints" / meta["tensors"])), meta


def test_cyclegan_resumes_bit_exactly_with_its_image_pools(unpaired_tree, tmp_path):
    base = dict(recipe="cyclegan", data="unpaired-folder", data_dir=str(unpaired_tree), deterministic=True,
                options={"pool_size": 3, "n_blocks": 1}, lr_decay_start=3, **{**TINY, "steps": 6, "sample_every": 0})
    Trainer(make_config({**base, "out": str(tmp_path / "a")}), callbacks=[]).fit()
    Trainer(make_config({**base, "steps": 4, "out": str(tmp_path / "b")}), callbacks=[]).fit()
    Trainer(make_config({**base, "out": str(tmp_path / "b")}), callbacks=[], resume=True).fit()
    a, meta = _tensors(tmp_path / "a")
    b, _ = _tensors(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert a["recipe.rank0.pool_a"].shape[0] == 3 and set(meta["optimizers"]) == {"generators", "discriminators"}
    gen = ganforge.load(tmp_path / "a")
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert gen.translate(x).shape == gen.translate(x, domain="A").shape == (2, 3, 16, 16)
    with pytest.raises(GanforgeError, match="domain 'C'"):
        gen.translate(x, domain="C")


def test_cyclegan_cli_eval_against_known_counterparts(unpaired_tree, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--recipe", "cyclegan", "--data-dir", str(unpaired_tree), "--options", '{"n_blocks": 1}',
                 "--out", str(run)] + _flags(**{**TINY, "steps": 2})) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "l1,psnr", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out.strip().splitlines()[-1])) == {"l1", "psnr"}
    assert main(["sample", str(run), "--input", str(unpaired_tree / "testB"), "--domain", "A",
                 "--out", str(tmp_path / "grid.png")]) == 0


def test_stargan_domains_knob_and_eval(domain_tree, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--recipe", "stargan", "--data", "domains", "--data-dir", str(domain_tree),
                 "--options", '{"n_blocks": 1}', "--n-critic", "2", "--out", str(run)]
                + _flags(**{**TINY, "batch_size": 6})) == 0
    gen = ganforge.load(run)
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    assert gen.translate(x, domain="green").shape == (3, 3, 16, 16)
    assert gen.translate(x, domain=torch.tensor([0, 1, 2])).shape == (3, 3, 16, 16)
    with pytest.raises(GanforgeError, match="unknown domain 'purple'"):
        gen.translate(x, domain="purple")
    with pytest.raises(GanforgeError, match="needs a target domain"):
        gen.translate(x)
    assert main(["sample", str(run), "--input", str(domain_tree / "red"), "--domain", "blue",
                 "--out", str(tmp_path / "blue")]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "domain_acc", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 <= scores["domain_acc"] <= 1
    assert 0 <= scores["domain_acc_real"] <= 1  # the judge on the held-out real images, next to every score


def test_stargan_generator_translates_alike_in_train_and_eval_mode():
    """Inference (eval mode) must use each image's own instance statistics, as training does: running
    averages of earlier batches in their place wrecked the translations (domain accuracy 0.37 vs 0.85)."""
    from ganforge.recipes.stargan import StarGenerator

    torch.manual_seed(0)
    g = StarGenerator(3, 4, ngf=8, n_blocks=1)
    g(torch.rand(4, 3, 16, 16) * 4 - 2, torch.tensor([0, 1, 2, 3]))  # a training batch of other statistics
    x, c = torch.rand(2, 3, 16, 16) * 2 - 1, torch.tensor([1, 3])
    with torch.no_grad():
        train_out = g(x, c)
        g.eval()
        assert torch.allclose(g(x, c), train_out, atol=1e-6)
    old = {k: v for k, v in g.state_dict().items()}  # a checkpoint of the running-statistics version
    old.update({"model.1.running_mean": torch.zeros(8), "model.1.running_var": torch.ones(8),
                "model.1.num_batches_tracked": torch.tensor(3)})
    g.load_state_dict(old, strict=True)


def test_srgan_pretrains_then_trains_adversarially_and_samples_low_res_folders(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--recipe", "srgan", "--data", "digits", "--image-size", "16", "--out", str(run),
                 "--options", '{"scale": 4, "blocks": 1, "pretrain_steps": 2}'] + _flags(**{**TINY, "image_size": 16})) == 0
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    phases = [set(k for k in entry if k in ("mse", "d_loss", "g_loss", "G/mse")) for entry in log if "step" in entry]
    assert any("d_loss" in p for p in phases)  # the GAN phases ran after the MSE pre-training
    gen = ganforge.load(run)
    lr = torch.rand(2, 1, 4, 4) * 2 - 1
    assert gen.translate(lr).shape == (2, 1, 16, 16)
    with pytest.raises(GanforgeError, match="inputs have shape"):
        gen.translate(torch.zeros(2, 1, 16, 16))
    inputs = tmp_path / "lr"
    for i in range(2):
        save(inputs / f"{i}.png", pattern(i, 4, 1))
    assert main(["sample", str(run), "--input", str(inputs), "--out", str(tmp_path / "sr")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "sr" / "0.png").size == (16, 16)
    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "psnr_y,ssim_y", "--baseline", "bicubic", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["psnr_y"] > 10
    with pytest.raises(GanforgeError, match="scale 3"):
        Trainer(make_config({"recipe": "srresnet", "data": "digits", "image_size": 16, "options": {"scale": 3}, **TINY}),
                run_dir=None)
