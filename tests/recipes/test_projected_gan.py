"""Projected GAN: frozen feature network outside checkpoints, fixed seeded projections, exact resume, plugging a
TorchScript or Python feature network, eval refusing the D's own extractor, and learning Fashion-MNIST."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import ganforge
from ganforge.cli import main
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.metrics import check_extractor, evaluate
from ganforge.nets.feature_pyramid import file_sha256
from ganforge.recipes import RECIPES
from ganforge.train.checkpoint import latest_checkpoint
from ganforge.train.trainer import Trainer
from tests.recipes.learning import QUIET, one_thread


class TinyPyramid(nn.Module):
    """A 4-scale feature network small enough for tests (random, frozen: the plumbing, not the quality)."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.stages = nn.ModuleList([nn.Conv2d(channels, 4, 3, 2, 1), nn.Conv2d(4, 8, 3, 2, 1),
                                     nn.Conv2d(8, 8, 3, 2, 1), nn.Conv2d(8, 8, 3, 2, 1)])

    def forward(self, x):
        out: list[torch.Tensor] = []
        for stage in self.stages:
            x = torch.relu(stage(x))
            out.append(x)
        return out


def tiny_pyramid(channels: int) -> nn.Module:  # the ``package.module:factory`` plug of a test
    torch.manual_seed(3)
    return TinyPyramid(channels)


def _save_scripted(module: nn.Module, path) -> str:
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; it is the plug-in format here
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(module), str(path))
    return str(path)


def _script(path, seed: int) -> str:
    torch.manual_seed(seed)
    return _save_scripted(TinyPyramid(1), path)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feature-nets")
    return _script(folder / "tiny.pt", 0), _script(folder / "other.pt", 1)


@pytest.fixture(scope="module")
def fashion16(shared_data):
    cfg = make_config({"recipe": "projected-gan", "data": "fashion-mnist", "data_dir": str(shared_data), "image_size": 16})
    return load_dataset(cfg).subset(512)


def _config(data_dir, feature_net, **overrides):
    return make_config({**QUIET, "recipe": "projected-gan", "data": "fashion-mnist", "data_dir": str(data_dir),
                        "image_size": 16, "batch_size": 8, "steps": 4, "deterministic": True,
                        "options": {"feature_net": feature_net, "projection_channels": 8}, **overrides})


def test_projections_are_seeded_fixed_and_never_trained(shared_data, fashion16, scripted):
    cfg = _config(shared_data, scripted[0])
    make = RECIPES.get("projected-gan")
    a, b = make(cfg, fashion16), make(cfg, fashion16)
    other = make(cfg.replace(options={**cfg.options, "projection_seed": 1}), fashion16)
    for key, value in a.nets["projector"].state_dict().items():
        assert torch.equal(value, b.nets["projector"].state_dict()[key])
    assert any(not torch.equal(v, other.nets["projector"].state_dict()[k]) for k, v in a.nets["projector"].state_dict().items())
    assert "projector" in a.frozen and "feature" not in a.nets  # the feature network is no network of the run
    with one_thread():
        trainer = Trainer(cfg.replace(steps=2), run_dir=None, dataset=fashion16)
        projector = {k: v.clone() for k, v in trainer.recipe.nets["projector"].state_dict().items()}
        features = {k: v.clone() for k, v in trainer.recipe.feature.module.state_dict().items()}
        trainer.fit()
    trained = {id(p) for params in trainer.group_params.values() for p in params}
    assert not trained & {id(p) for p in trainer.recipe.nets["projector"].parameters()}
    assert not trained & {id(p) for p in trainer.recipe.feature.module.parameters()}
    assert all(torch.equal(v, trainer.recipe.nets["projector"].state_dict()[k]) for k, v in projector.items())
    assert all(torch.equal(v, trainer.recipe.feature.module.state_dict()[k]) for k, v in features.items())


@pytest.fixture(scope="module")
def runs(shared_data, fashion16, scripted, tmp_path_factory):
    """The same 4 steps straight through and as 2 + resume + 2, with a TorchScript feature network."""
    root = tmp_path_factory.mktemp("projected")
    with one_thread():
        Trainer(_config(shared_data, scripted[0], out=str(root / "straight")), run_dir="auto", dataset=fashion16).fit()
        Trainer(_config(shared_data, scripted[0], steps=2, out=str(root / "split")), run_dir="auto", dataset=fashion16).fit()
        Trainer(_config(shared_data, scripted[0], out=str(root / "split")), run_dir="auto", dataset=fashion16,
                resume=True).fit()
    return root


def test_checkpoint_holds_projections_not_the_feature_network_and_resume_is_exact(runs, scripted):
    a_meta, a = latest_checkpoint(runs / "straight")
    b_meta, b = latest_checkpoint(runs / "split")
    assert a_meta["step"] == b_meta["step"] == 4 and a.keys() == b.keys()
    nets = {key.split(".")[1] for key in a if key.startswith(("net.", "ema."))}
    assert nets == {"generator", "discriminator", "projector"}  # no feature network weights, no pickled code
    state = a_meta["recipe_state"][0]
    assert state["feature_net"] == scripted[0] and state["feature_sha256"] == file_sha256(scripted[0])
    assert state == b_meta["recipe_state"][0]
    for key in a:
        if not key.startswith("rng."):
            assert torch.equal(a[key], b[key]), key


def test_resume_refuses_other_feature_weights(shared_data, fashion16, tmp_path):
    net = _script(tmp_path / "net.pt", 0)
    cfg = _config(shared_data, net, steps=1, out=str(tmp_path / "run"))
    with one_thread():
        Trainer(cfg, run_dir="auto", dataset=fashion16).fit()
        _script(tmp_path / "net.pt", 1)  # the same path now holds other weights
        with pytest.raises(GanforgeError, match="sha256"):
            Trainer(cfg.replace(steps=2), run_dir="auto", dataset=fashion16, resume=True).fit()


def test_python_factory_and_bad_feature_networks(shared_data, fashion16, tmp_path):
    make = RECIPES.get("projected-gan")
    recipe = make(_config(shared_data, "tests.recipes.test_projected_gan:tiny_pyramid"), fashion16)
    assert len(recipe.nets["discriminator"].heads) == 4 and recipe.feature.sha256
    _save_scripted(nn.Conv2d(1, 4, 3), tmp_path / "flat.pt")
    with pytest.raises(GanforgeError, match="list of 4 feature maps"):
        make(_config(shared_data, str(tmp_path / "flat.pt")), fashion16)
    with pytest.raises(GanforgeError, match="neither a built-in"):
        make(_config(shared_data, str(tmp_path / "missing.pt")), fashion16)


def test_eval_refuses_the_inception_for_a_run_whose_d_saw_it(shared_data, fashion16, inception_torchscript, tmp_path,
                                                             capsys):
    out = tmp_path / "inception-d"
    with one_thread():
        Trainer(_config(shared_data, str(inception_torchscript), steps=1, batch_size=2, out=str(out)), run_dir="auto",
                dataset=fashion16).fit()
    gen = ganforge.load(out)
    assert gen.recipe.discriminator_feature_extractors == ("inception",)
    capsys.readouterr()  # the training's progress bar
    assert main(["eval", str(out), "--extractor", "inception", "--samples", "10"]) == 2
    err = capsys.readouterr().err
    assert "--extractor classifier" in err and "Kynkäänniemi" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(GanforgeError, match="extractor='classifier'"):
        evaluate(gen, None, "fid", extractor="inception", samples=10)
    check_extractor(gen.recipe, "classifier")  # another network: allowed


def test_learns_fashion_mnist_with_the_default_feature_network(shared_data, tmp_path):
    """The default CLI path (pyramid-cnn trained on the data) at 16x16: the classifier-space Fréchet distance of
    the EMA samples falls far below the untrained generator's (a different network from D's features)."""
    out = tmp_path / "learn"
    argv = ["train", "--recipe", "projected-gan", "--data", "fashion-mnist", "--data-dir", str(shared_data),
            "--image-size", "16", "--steps", "80", "--batch-size", "32", "--ema-decay", "0.95", "--out", str(out),
            "--sample-every", "0", "--checkpoint-every", "0"]
    with one_thread():
        assert main(argv) == 0
        gen = ganforge.load(out)
        data = load_dataset(gen.config)
        trained = evaluate(gen.sample(500, seed=1), data, "fid", extractor="classifier", real_samples=500)["fid"]
        control = RECIPES.get("projected-gan")(gen.config, data)  # step 0: untrained generator
        untrained = evaluate(control.sample(500, seed=1).x, data, "fid", extractor="classifier", real_samples=500)["fid"]
    assert trained < 0.6 * untrained, (trained, untrained)  # measured at 80 steps: 104 vs 247 (0.42)
    check_extractor(gen.recipe, "classifier")  # the cnn classifier: another network than D's pyramid
    with pytest.raises(GanforgeError, match="--extractor inception"):
        check_extractor(gen.recipe, "classifier", classifier_kind="pyramid")
