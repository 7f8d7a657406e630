"""Frozen feature networks that return 4 feature maps (shallow to deep): the projected discriminator's eyes.

A ``feature_net`` is named by one string:

* ``pyramid-cnn`` (default): a 4-stage CNN classifier that ganforge trains on the run's labelled training
  data (``ganforge.classifiers``, kind ``pyramid``: deterministic, cached by the data's hash under
  ``$GANFORGE_CACHE/classifiers``). Offline there is no ImageNet network small enough for CPU training;
  this is the library-trained stand-in for the paper's EfficientNet-lite.
* ``inception``: the FID Inception-v3 (TorchScript from ``$GANFORGE_INCEPTION`` or
  ``$GANFORGE_CACHE/inception/inception-2015-12-05-pool3.torchscript.pt``), tapped after
  Conv2d_2b, Conv2d_4a, Mixed_5d and Mixed_6e (its TorchScript ``net.layers`` children run one by one).
  A run that uses it must not be scored with Inception-FID (Kynkäänniemi et al., ICLR 2023).
* a TorchScript file path: a module taking model-space images (N, C, H, W) in [-1, 1] and returning a
  list of 4 feature maps; the FID Inception TorchScript itself is recognised and tapped as above.
  Loading TorchScript runs code from the file: name only files you trust.
* ``package.module:factory``: a Python callable ``factory(channels) -> nn.Module`` with the same contract.

Each loader returns a ``FeatureNet``: the frozen module, its identity (``sha256`` of the file or of the
weights) and ``sees`` (the metric extractors whose network it is: ``("inception",)`` for the Inception).
"""
from __future__ import annotations

import hashlib
import importlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError

INCEPTION_TS_NAME = "inception-2015-12-05-pool3.torchscript.pt"
INCEPTION_TAPS = ("conv_2", "conv_4", "mixed_2", "mixed_7")  # Conv2d_2b, Conv2d_4a, Mixed_5d, Mixed_6e
INCEPTION_RESOLUTION = 64  # smallest power of two whose Mixed_6e output is not empty (2x2), CPU-affordable


@dataclass
class FeatureNet:
    module: nn.Module       # (N, C, H, W) model-space images -> list of 4 maps
    name: str               # what the user passed (a built-in name, a path or a module path)
    sha256: str             # of the file, or of the weights (built-ins, factories)
    sees: tuple[str, ...]   # metric extractors that share this network (eval refuses them)
    resolution: int | None  # the images are resized to this before the network (None: as they are)


def weights_sha256(module: nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().view(torch.uint8).reshape(-1).numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def freeze(module: nn.Module) -> nn.Module:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


class Resized(nn.Module):
    """Model-space images -> the network's input: grey repeated to RGB where it wants 3 channels, bilinear
    resize to ``resolution`` (the official code interpolates to 224 for its backbones)."""

    def __init__(self, net: nn.Module, resolution: int | None, rgb: bool):
        super().__init__()
        self.net, self.resolution, self.rgb = net, resolution, rgb

    def forward(self, x):
        if self.rgb and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.resolution and x.shape[-1] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        return self.net(x)


class InceptionTaps(nn.Module):
    """Runs the FID Inception TorchScript's ``net.layers`` children in order and returns 4 of their outputs."""

    def __init__(self, scripted):
        super().__init__()
        children = dict(scripted.net.layers.named_children())
        last = list(children).index(INCEPTION_TAPS[-1])
        self.layers = nn.ModuleList(list(children.values())[: last + 1])
        self.taps = {list(children).index(name) for name in INCEPTION_TAPS}

    def forward(self, x):
        out = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out


class ClassifierPyramid(nn.Module):
    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, x):
        return self.classifier.pyramid(x)


def is_fid_inception(scripted) -> bool:
    try:
        names = set(dict(scripted.net.layers.named_children()))
    except AttributeError:
        return False
    return set(INCEPTION_TAPS) <= names


def _load_torchscript(path: Path):
    try:
        with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; it is still the portable format
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as e:  # noqa: BLE001 - any failure to read the file is the same user-facing problem
        raise GanforgeError(f"feature_net {str(path)!r} is not a loadable TorchScript file "
                            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}).") from None


def inception_path() -> Path:
    from ganforge.classifiers import cache_root

    env = os.environ.get("GANFORGE_INCEPTION")
    for candidate in ([Path(env).expanduser()] if env else []) + [cache_root() / "inception" / INCEPTION_TS_NAME]:
        if candidate.is_file() and candidate.suffix == ".pt":
            return candidate
    raise GanforgeError(f"feature_net 'inception' needs the FID Inception TorchScript ({INCEPTION_TS_NAME}): set "
                        "GANFORGE_INCEPTION to it or pass its path, --options '{feature_net: PATH}'.")


def from_torchscript(path: Path, name: str, resolution: int | None) -> FeatureNet:
    scripted = _load_torchscript(path)
    if is_fid_inception(scripted):
        module = Resized(InceptionTaps(scripted), resolution or INCEPTION_RESOLUTION, rgb=True)
        return FeatureNet(freeze(module), name, file_sha256(path), ("inception",), resolution or INCEPTION_RESOLUTION)
    return FeatureNet(freeze(Resized(scripted, resolution, rgb=False)), name, file_sha256(path), (), resolution)


def from_factory(spec: str, channels: int, resolution: int | None) -> FeatureNet:
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
        net = factory(channels)
    except (ImportError, AttributeError, TypeError) as e:
        raise GanforgeError(f"feature_net {spec!r}: cannot build it ({type(e).__name__}: {e}); give "
                            "'package.module:factory' with factory(channels) -> nn.Module.") from None
    if not isinstance(net, nn.Module):
        raise GanforgeError(f"feature_net {spec!r}: the factory returned {type(net).__name__}, not an nn.Module.")
    return FeatureNet(freeze(Resized(net, resolution, rgb=False)), spec, weights_sha256(net), (), resolution)


def load_feature_net(spec: str, dataset, resolution: int | None = None, seed: int = 0,
                     trained: bool = True) -> FeatureNet:
    """The frozen feature network named by ``spec`` (see the module docstring). ``trained=False`` gives a
    built-in's architecture with untrained weights (its shapes: a restored run samples without data)."""
    channels = int(dataset.shape[0])
    if spec == "pyramid-cnn":
        from ganforge.classifiers import build_untrained, pretrained

        if not dataset.num_classes:
            raise GanforgeError(f"feature_net 'pyramid-cnn' is a classifier trained on the data's labels and "
                                f"{dataset.name!r} has none; pass a TorchScript file or 'package.module:factory' "
                                "with --options '{feature_net: ...}'.")
        net = pretrained(dataset, "pyramid", seed=seed) if trained else build_untrained(dataset, "pyramid")
        module = freeze(Resized(ClassifierPyramid(net), resolution, rgb=False))
        # the metrics' classifier extractor with classifier_kind="pyramid" is this network (any seed: same data, same
        # architecture): evaluation refuses it for such runs.
        return FeatureNet(module, spec, weights_sha256(net) if trained else "", ("classifier-pyramid",), resolution)
    if spec == "inception":
        return from_torchscript(inception_path(), spec, resolution)
    if ":" in spec and not Path(spec).exists():
        return from_factory(spec, channels, resolution)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise GanforgeError(f"feature_net {spec!r} is neither a built-in (pyramid-cnn, inception), a file, nor "
                            "'package.module:factory'.")
    return from_torchscript(path, spec, resolution)


@torch.no_grad()
def probe(net: FeatureNet, shape: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """(channels, sizes) of the 4 feature maps for images of ``shape``; a clear error when it is not 4 maps."""
    try:
        out = net.module(torch.zeros(2, *shape))
    except Exception as e:  # noqa: BLE001 - a user network that cannot run on these images
        raise GanforgeError(f"feature_net {net.name!r} cannot run on images of shape {tuple(shape)} "
                            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}).") from None
    if not isinstance(out, (list, tuple)) or len(out) != 4 or not all(torch.is_tensor(o) and o.dim() == 4 for o in out):
        raise GanforgeError(f"feature_net {net.name!r} must return a list of 4 feature maps (N, C, H, W), "
                            f"shallow to deep; it returned {type(out).__name__}.")
    return [int(o.shape[1]) for o in out], [int(o.shape[-1]) for o in out]
