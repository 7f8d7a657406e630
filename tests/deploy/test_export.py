"""Export: ONNX (checked in onnxruntime against PyTorch), TorchScript, hub folders; what cannot be exported."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.deploy.graph import build_graph, example_inputs, not_exportable_reason
from ganforge.errors import CheckpointError, GanforgeError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

EXPECTED_INPUTS = {"dcgan": ["z"], "cgan": ["z", "labels"], "translate": ["image"], "began": ["z"]}


@pytest.mark.parametrize("name", ["dcgan", "cgan", "translate", "began"])
def test_onnx_matches_pytorch_in_onnxruntime(name, runs, generators, tmp_path):
    out = ganforge.export(runs[name], format="onnx", out=tmp_path / f"{name}.onnx")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == EXPECTED_INPUTS[name]
    assert session.get_inputs()[0].shape[0] == "batch"  # dynamic batch axis
    gen = generators[name]
    graph = build_graph(gen.recipe, gen.nets)
    for n in (1, 7):  # batch sizes other than the traced one (2)
        inputs = example_inputs(graph, n, seed=n)
        got = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]
        if name == "translate":
            expected = gen.translate(inputs["image"]).numpy()
        else:  # the same z that gen.sample draws from seed n: the graph *is* the sampling
            expected = gen.sample(n, seed=n).numpy()
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-4
    spec = json.loads((tmp_path / f"{name}.onnx.json").read_text())
    assert [i["name"] for i in spec["inputs"]] == EXPECTED_INPUTS[name]
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["ganforge"])["recipe"] == gen.config.recipe
    if name == "began":  # the paper's uniform prior, drawn as BEGAN's own sample() draws it
        assert spec["latent_prior"] == "uniform" and "uniform in [-1, 1]" in spec["z_distribution"]
        assert inputs["z"].abs().max() <= 1 and inputs["z"].min() < 0
    elif name != "translate":
        assert spec["latent_prior"] == "normal" and "standard normal" in spec["z_distribution"]


def test_infogan_exports_noise_and_codes(runs, generators, tmp_path):
    """InfoGAN's graph takes z and the code vector; fixing a code reproduces `sample(codes=...)`."""
    gen = generators["infogan"]
    out = ganforge.export(runs["infogan"], format="onnx", out=tmp_path / "info.onnx")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z", "code"]
    graph = build_graph(gen.recipe, gen.nets)
    inputs = graph.make_inputs(5, seed=4, codes={"cat": 3})
    assert (inputs["code"][:, :10].argmax(1) == 3).all()
    got = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]
    expected = gen.recipe.sample(5, seed=4, codes={"cat": 3}).x.numpy()
    assert np.abs(got - expected).max() <= 1e-4
    spec = json.loads((tmp_path / "info.onnx.json").read_text())
    assert spec["latent_prior"] == "uniform" and spec["codes"][0] == "cat"


def test_a_generator_that_does_not_take_z_alone_is_refused_with_a_reason(generators, monkeypatch):
    """Without its hook, InfoGAN's generator (z and codes) fails the plain noise graph's call: that is a
    GanforgeError with the reason, never a raw RuntimeError that would take down a server loading it."""
    gen = generators["infogan"]
    monkeypatch.delattr(type(gen.recipe), "inference_graph")
    with pytest.raises(GanforgeError, match="not the network call ganforge assumed"):
        build_graph(gen.recipe, gen.nets)


def test_torchscript_export_and_cli(runs, generators, tmp_path, capsys):
    out = tmp_path / "g.pt"
    assert main(["export", str(runs["cgan"]), "--format", "torchscript", "--out", str(out)]) == 0
    module = torch.jit.load(str(out))  # our own file, in a test
    graph = build_graph(generators["cgan"].recipe, generators["cgan"].nets)
    x = example_inputs(graph, 4, seed=3)
    assert torch.allclose(module(x["z"], x["labels"]), generators["cgan"].sample(4, seed=3), atol=1e-5)
    assert main(["export", str(runs["dcgan"]), "--out", str(tmp_path / "d.onnx")]) == 0  # onnx is the default


def test_hub_folder_round_trip_offline(runs, generators, tmp_path):
    out = tmp_path / "hub"
    assert main(["export", str(runs["cgan"]), "--format", "hub", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == "ganforge-hub" and config["library_name"] == "ganforge" and config["recipe"] == "cgan"
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: ganforge") and "digits" in card and "![samples](samples.png)" in card
    from safetensors.torch import load_file

    keys = load_file(str(out / "model.safetensors")).keys()
    assert keys and all(k.startswith("net.generator.") for k in keys)  # no discriminator, no optimiser
    gen = ganforge.load(out)
    assert torch.equal(gen.sample(6, seed=2, labels=4), generators["cgan"].sample(6, seed=2, labels=4))
    # the folder itself exports again (hub -> onnx)
    ganforge.export(out, format="onnx", out=tmp_path / "from-hub.onnx")
    # tampering is caught: weights, then the JSON
    blob = bytearray((out / "model.safetensors").read_bytes())
    blob[-1] ^= 1
    (out / "model.safetensors").write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="does not match the hash"):
        ganforge.load(out)
    (out / "config.json").write_text(json.dumps({**config, "tensors": "../../etc/passwd.safetensors"}))
    with pytest.raises(CheckpointError, match="corrupt or tampered"):
        ganforge.load(out)
    (out / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(CheckpointError, match="not a ganforge model folder"):
        ganforge.load(out)


def test_tables_are_not_exportable_with_the_reason(tmp_path):
    import pandas as pd

    from ganforge.config import make_config
    from ganforge.data import load_dataset
    from ganforge.recipes import RECIPES

    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=60), "c": rng.choice(["x", "y"], 60), "label": rng.choice(["p", "q"], 60)}) \
        .to_csv(tmp_path / "t.csv", index=False)
    cfg = make_config({"recipe": "tabular-gan", "data_path": str(tmp_path / "t.csv"), "target": "label",
                       "batch_size": 20, "options": {"mixture_iters": 5, "pac": 2}})
    recipe = RECIPES.get("tabular-gan")(cfg, load_dataset(cfg))
    reason = not_exportable_reason(recipe)
    assert "Gumbel-softmax" in reason and "inverse transform" in reason
    with pytest.raises(GanforgeError, match="Gumbel-softmax"):
        build_graph(recipe, recipe.nets)


def test_a_recipe_can_declare_its_own_graph_with_truncation(generators):
    """The hook a style-based recipe uses: inference_graph() adds a truncation input."""
    from ganforge.deploy.graph import InferenceGraph, InputSpec

    gen = generators["dcgan"]

    class Truncated(torch.nn.Module):
        def __init__(self, g):
            super().__init__()
            self.g = g

        def forward(self, z, truncation):
            return self.g(z * truncation[:, None])

    class Styled(type(gen.recipe)):
        def inference_graph(self, nets):
            return InferenceGraph(Truncated(nets["generator"]),
                                  [InputSpec("z", ("batch", 100), "float32"), InputSpec("truncation", ("batch",), "float32", default=1.0)],
                                  lambda n, seed=0: {"z": torch.randn(n, 100, generator=torch.Generator().manual_seed(seed)),
                                                     "truncation": torch.ones(n)},
                                  InputSpec("x", ("batch", 1, 8, 8), "float32"))

    recipe = Styled.__new__(Styled)
    recipe.__dict__.update(gen.recipe.__dict__)
    graph = build_graph(recipe, gen.nets)
    assert graph.input_names == ["z", "truncation"]


@pytest.mark.parametrize("argv, message", [
    (["--format", "onnx", "--out", "x.png"], "should end in .onnx"),
    (["--format", "torchscript", "--out", "x.onnx"], "should end in .pt"),
    (["--format", "hub", "--out", "NONEMPTY"], "not an empty folder"),
    (["--format", "onnx", "--out", "/proc/forbidden/x.onnx"], "cannot create /proc/forbidden"),
])
def test_bad_export_arguments_exit_2_with_one_line(runs, tmp_path, capsys, argv, message):
    (tmp_path / "NONEMPTY").mkdir()
    (tmp_path / "NONEMPTY" / "f").write_text("x")
    argv = [a.replace("NONEMPTY", str(tmp_path / "NONEMPTY")) if a == "NONEMPTY" else a for a in argv]
    argv = [str(tmp_path / a) if a in ("x.png", "x.onnx") else a for a in argv]
    assert main(["export", str(runs["dcgan"]), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_export_of_a_missing_run_exits_2(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_stylegan2_exports_with_a_truncation_input(runs, tmp_path):
    """StyleGAN2's graph (mapping, truncation around the mean w, synthesis with the fixed noise) gives
    in ONNX Runtime what ``sample`` gives, at psi 1 and at psi 0.5."""
    run = runs["stylegan2"]
    out = ganforge.export(run, format="onnx", out=tmp_path / "sg2.onnx")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z", "truncation"]
    gen = ganforge.load(run)
    graph = build_graph(gen.recipe, gen.nets)
    for psi in (1.0, 0.5):
        inputs = graph.make_inputs(3, seed=5, truncation=psi)
        got = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]
        expected = gen.sample(3, seed=5, truncation=psi).numpy()
        assert np.abs(got - expected).max() <= 1e-4, psi
    with pytest.raises(GanforgeError, match="truncation"):
        graph.make_inputs(1, truncation=3.0)
