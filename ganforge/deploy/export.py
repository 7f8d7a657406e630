"""Export a trained generator: ONNX, TorchScript, or a Hub-style folder.

    ganforge.export("runs/dcgan", format="onnx", out="g.onnx")     # or: ganforge export RUN --format onnx --out g.onnx

ONNX / TorchScript hold the recipe's sampling network with the weights sampling uses (the EMA copy
where training kept one), a dynamic batch axis and named inputs (see ``ganforge.deploy.graph``):
``z`` (N, z_dim) float32 from the recipe's prior (standard normal; uniform for BEGAN, WaveGAN, InfoGAN)
[+ ``labels`` (N,) int64] for noise / class recipes,
``image`` (N, C, H, W) float32 in [-1, 1] for image-input recipes, and any input a recipe's
``inference_graph`` adds (``truncation``). The output ``x`` is in model space (images in [-1, 1]).
A JSON sidecar ``FILE.json`` (and, for ONNX, the model's metadata) records the inputs, how z is
drawn and how to decode the output. Before writing, the exported file is run once and compared
with PyTorch (ONNX: with onnxruntime when it is installed).

``hub`` writes a folder that ``ganforge.load(DIR)`` reads offline (``ganforge.deploy.hub``).
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch

from ganforge.deploy.graph import InferenceGraph, build_graph, example_inputs
from ganforge.errors import GanforgeError
from ganforge.utils.files import atomic_write, atomic_write_text

FORMATS = ("onnx", "torchscript", "hub")
ONNX_OPSET = 17
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}


def _load(run):
    if hasattr(run, "recipe") and hasattr(run, "nets"):
        return run
    import ganforge

    return ganforge.load(run)


def export(run, format: str = "onnx", out: str | Path | None = None, verify: bool = True) -> Path:
    """Export a run folder / checkpoint / hub folder / ``TrainedGenerator``; returns the written path."""
    if format not in FORMATS:
        raise GanforgeError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}.")
    if out is None:
        raise GanforgeError("export needs an output path (--out FILE, or a folder for --format hub).")
    out = Path(out)
    _check_out(out, format)
    gen = _load(run)
    if format == "hub":
        from ganforge.deploy.hub import export_hub

        return export_hub(gen, out, source=run if isinstance(run, (str, Path)) else None)
    graph = build_graph(gen.recipe, gen.nets)
    spec = describe(gen, graph, format)
    graph.module.cpu().eval()
    example = example_inputs(graph, 2)
    args = tuple(example[name] for name in graph.input_names)
    if format == "onnx":
        _export_onnx(graph, args, out, spec)
    else:
        _export_torchscript(graph, args, out)
    atomic_write_text(out.with_name(out.name + ".json"), json.dumps(spec, indent=1))
    if verify:
        verify_export(out, graph, format)
    return out


def _check_out(out: Path, format: str) -> None:
    if format == "hub":
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise GanforgeError(f"--out {out} exists and is not an empty folder; give a new folder for --format hub.")
    else:
        if out.suffix.lower() != SUFFIXES[format]:
            raise GanforgeError(f"--out {out} should end in {SUFFIXES[format]} for --format {format}.")
        if out.is_dir():
            raise GanforgeError(f"--out {out} is a folder; give a file name ending in {SUFFIXES[format]}.")
    folder = out if format == "hub" else out.parent
    try:  # an output that cannot be created fails here, before the model is loaded or traced
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GanforgeError(f"cannot create {folder} ({e.strerror or e}); choose another --out.") from None
    if not os.access(folder, os.W_OK):
        raise GanforgeError(f"cannot write {out}: {folder} is not writable; choose another --out.")


def describe(gen, graph: InferenceGraph, format: str) -> dict:
    from ganforge.version import __version__

    return {
        "format": f"ganforge-{format}", "ganforge_version": __version__, "recipe": gen.config.recipe,
        "task": gen.recipe.task, "step": gen.step, "data": gen.config.data,
        "inputs": [{"name": s.name, "shape": list(s.shape), "dtype": s.dtype, "doc": s.doc,
                    **({"default": s.default} if s.default is not None else {})} for s in graph.inputs],
        "output": {"name": graph.output.name, "shape": list(graph.output.shape), "dtype": graph.output.dtype,
                   "doc": graph.output.doc},
        "class_names": list(getattr(gen.dataset, "class_names", []) or []),
        **graph.meta,
    }


def _export_onnx(graph: InferenceGraph, args: tuple, out: Path, spec: dict) -> None:
    try:
        import onnx
    except ImportError:
        raise GanforgeError("ONNX export needs the onnx package: pip install 'ganforge[export]'.") from None
    dynamic = {name: {0: "batch"} for name in graph.input_names}
    dynamic[graph.output.name] = {0: "batch"}

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation notice
            # dynamo=False: the TorchScript-based exporter needs no onnxscript and handles these
            # plain feed-forward graphs exactly; the dynamo exporter is not needed for them.
            torch.onnx.export(graph.module, args, str(tmp), input_names=graph.input_names,
                              output_names=[graph.output.name], dynamic_axes=dynamic, opset_version=ONNX_OPSET,
                              dynamo=False, do_constant_folding=True)
        model = onnx.load(str(tmp))
        for key, value in (("ganforge", json.dumps(spec)),):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))

    atomic_write(out, write)


def _export_torchscript(graph: InferenceGraph, args: tuple, out: Path) -> None:
    # TorchScript is deprecated since PyTorch 2.9 (still works in 2.13); kept for libtorch users, ONNX preferred
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(graph.module, args, check_trace=False)
        atomic_write(out, lambda tmp: torch.jit.save(traced, str(tmp)))


def verify_export(out: Path, graph: InferenceGraph, format: str, n: int = 3, atol: float = 1e-4) -> float | None:
    """Run the exported file on fresh inputs (another batch size than the trace) and compare with PyTorch."""
    inputs = example_inputs(graph, n, seed=123)
    expected = graph.run(inputs).numpy()
    if format == "onnx":
        try:
            import onnxruntime as ort
        except ImportError:
            return None  # exported and checked by onnx.checker; numerical check needs onnxruntime
        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        got = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(out))  # the file we just wrote ourselves
        with torch.no_grad():
            got = module(*[inputs[k] for k in graph.input_names]).numpy()
    diff = float(abs(got - expected).max())
    if not diff <= atol:
        out.unlink(missing_ok=True)
        raise GanforgeError(f"the exported {format} model differs from PyTorch by {diff:.2e} (> {atol}); "
                            "not written. Please report this with the recipe name.")
    return diff
