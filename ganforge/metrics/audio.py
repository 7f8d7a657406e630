"""Audio metrics: WaveGAN's SC09 protocol on a digit classifier trained here.

Donahue et al. (ICLR 2019) score generated spoken digits with a classifier trained on the real SC09
digits: the **Inception score** exp(E KL(p(y|x) || p(y))) of its softmax (10 at most; real data
scores 9.18 in the paper, WaveGAN 4.7), and we add the **Fréchet distance** between its penultimate
features of real and generated clips and, for conditional models, its **accuracy on the requested
digit**. No pretrained audio model is available offline, so the classifier is trained here, on the
run's own training split (log-mel spectrogram -> small 2-D CNN), deterministically, and cached
(safetensors + JSON under ``$GANFORGE_CACHE/classifiers``) by the data's hash: scores are comparable
between runs on the same data at the same sample rate and length.

``ganforge eval RUN --extractor audio-classifier --metrics is,fid`` uses it through the extractor
registry; ``evaluate_audio`` adds the conditional accuracy and the real-data reference score.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from ganforge.classifiers import cache_root, dataset_fingerprint
from ganforge.errors import GanforgeError
from ganforge.metrics import EXTRACTORS
from ganforge.metrics.fid import feature_stats, frechet_distance
from ganforge.metrics.inception_score import inception_score

FORMAT_VERSION = 1
HYPER_PARAMETERS = {"steps": 800, "batch_size": 64, "lr": 2e-3, "weight_decay": 1e-4, "width": 24, "mels": 40}


def mel_filterbank(n_fft: int, n_mels: int, rate: int) -> torch.Tensor:
    """(n_mels, n_fft//2+1) triangular filters, equally spaced on the mel scale (HTK formula)."""
    mel = lambda f: 2595 * math.log10(1 + f / 700)  # noqa: E731
    points = torch.linspace(mel(0.0), mel(rate / 2), n_mels + 2)
    hz = 700 * (10 ** (points / 2595) - 1)
    bins = torch.linspace(0, rate / 2, n_fft // 2 + 1)
    lower, centre, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    up = (bins - lower) / (centre - lower).clamp_min(1e-6)
    down = (upper - bins) / (upper - centre).clamp_min(1e-6)
    return torch.clamp(torch.minimum(up, down), min=0)


class LogMel(nn.Module):
    """Waveforms (N, 1, S) in [-1, 1] -> log-mel spectrograms (N, 1, mels, frames); a 64 ms window."""

    def __init__(self, rate: int, mels: int):
        super().__init__()
        self.n_fft = 2 ** max(4, round(math.log2(rate * 0.064)))
        self.hop = self.n_fft // 4
        mels = min(mels, self.n_fft // 4)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.register_buffer("filters", mel_filterbank(self.n_fft, mels, rate), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x.flatten(1).float(), self.n_fft, self.hop, window=self.window, return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2
        return torch.log(self.filters @ power + 1e-6).unsqueeze(1)


class AudioDigitClassifier(nn.Module):
    """Log-mel -> 3 x (conv 3x3, batch norm, ReLU, max-pool 2) -> global average -> features -> logits."""

    def __init__(self, rate: int, num_classes: int, width: int = 24, mels: int = 40):
        super().__init__()
        self.frontend = LogMel(rate, mels)
        layers, c = [nn.BatchNorm2d(1)], 1
        for i in range(3):
            layers += [nn.Conv2d(c, width * 2 ** i, 3, padding=1), nn.BatchNorm2d(width * 2 ** i), nn.ReLU(),
                       nn.MaxPool2d(2, ceil_mode=True)]
            c = width * 2 ** i
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(c, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.frontend(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _rate(dataset) -> int:
    rate = (dataset.meta or {}).get("sample_rate")
    if dataset.kind != "audio" or not rate:
        raise GanforgeError(f"the audio classifier needs an audio dataset (spoken-digits, audio-folder); "
                            f"{dataset.name!r} holds {dataset.kind} data.")
    if dataset.y is None or dataset.num_classes < 2:
        raise GanforgeError(f"the audio classifier needs labelled clips (class sub-folders); {dataset.name!r} has "
                            "none: use spoken-digits or an audio-folder with class folders.")
    return int(rate)


def _train(dataset, rate: int, hp: dict, seed: int) -> AudioDigitClassifier:
    """Adam with cosine decay; each batch randomly shifted in time (up to 1/8 of the clip) and rescaled in
    gain (0.5..1.5), so the classifier keys on what is said, not on where or how loudly. fork_rng: the
    caller's RNG stream (a GAN run) is untouched."""
    n = len(dataset.y)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AudioDigitClassifier(rate, dataset.num_classes, hp["width"], hp["mels"])
        opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / hp["steps"])))
        max_shift = dataset.x.shape[-1] // 8
        model.train()
        for _ in range(hp["steps"]):
            idx = torch.randint(0, n, (min(hp["batch_size"], n),))
            x = dataset.to_model(dataset.x[idx]) * (0.5 + torch.rand(len(idx), 1, 1))
            x = torch.roll(F.pad(x, (max_shift, 0)), int(torch.randint(0, max_shift + 1, ())), -1)[..., max_shift:]
            loss = F.cross_entropy(model(x), dataset.y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval().requires_grad_(False)


def audio_classifier(dataset, cache_dir=None, seed: int = 0, steps: int | None = None) -> AudioDigitClassifier:
    """A frozen digit classifier trained on ``dataset`` (its training split), cached by the data's hash."""
    rate = _rate(dataset)
    hp = dict(HYPER_PARAMETERS, **({"steps": int(steps)} if steps else {}))
    arch = {"rate": rate, "num_classes": int(dataset.num_classes), "width": hp["width"], "mels": hp["mels"]}
    key_src = json.dumps({"data": dataset_fingerprint(dataset), "arch": arch, "hp": hp, "seed": seed,
                          "v": FORMAT_VERSION}, sort_keys=True)
    stem = "audio-cnn-" + hashlib.sha256(key_src.encode()).hexdigest()[:20]
    folder = cache_root(cache_dir) / "classifiers"
    tensors, meta_path = folder / f"{stem}.safetensors", folder / f"{stem}.json"
    model = AudioDigitClassifier(rate, dataset.num_classes, hp["width"], hp["mels"])
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("sha256") == hashlib.sha256(tensors.read_bytes()).hexdigest():
            model.load_state_dict(load_file(str(tensors)))
            return model.eval().requires_grad_(False)
    except (OSError, ValueError, RuntimeError, KeyError):
        pass  # absent or unreadable: retrain
    start = time.perf_counter()
    model = _train(dataset, rate, hp, seed)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = tensors.with_name(f".{tensors.name}.{os.getpid()}.tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    os.replace(tmp, tensors)
    meta = {"format_version": FORMAT_VERSION, "architecture": arch, "hyper_parameters": hp, "seed": seed,
            "dataset": dataset.name, "train_seconds": round(time.perf_counter() - start, 1),
            "sha256": hashlib.sha256(tensors.read_bytes()).hexdigest()}
    tmp = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, meta_path)  # the JSON last: the commit marker of the cache entry
    return model


class AudioClassifierExtractor:
    """The extractor interface (``ganforge.metrics.extractors``) over the audio digit classifier."""

    def __init__(self, dataset=None, classifier_data=None, classifier_seed: int = 0, batch_size: int = 256,
                 device="cpu", **_):
        data = classifier_data if classifier_data is not None else dataset
        if data is None:
            raise GanforgeError("the audio-classifier extractor needs the real labelled training clips.")
        self.model = audio_classifier(data, seed=classifier_seed).to(device)
        self.shape, self.device, self.batch_size = tuple(data.x.shape[1:]), torch.device(device), int(batch_size)
        self.name, self.has_logits = "audio-classifier", True
        self.key = f"audio-classifier-s{classifier_seed}-{dataset_fingerprint(data)[:16]}"

    def require_logits(self):
        return None

    @torch.inference_mode()
    def extract(self, x: torch.Tensor, logits: bool = True):
        if tuple(x.shape[1:]) != self.shape:
            raise GanforgeError(f"clips of shape {tuple(x.shape[1:])} do not match the classifier's training clips "
                                f"{self.shape}; generate at the dataset's sample rate and length.")
        feats, outs = [], []
        for i in range(0, len(x), self.batch_size):
            f = self.model.features(x[i:i + self.batch_size].to(self.device).float().clamp(-1, 1))
            feats.append(f.cpu())
            outs.append(self.model.head(f).cpu())
        return torch.cat(feats), torch.cat(outs)


@EXTRACTORS.register("audio-classifier")
def _audio_classifier(**options):
    return AudioClassifierExtractor(**options)


def score_clips(extractor: AudioClassifierExtractor, clips: torch.Tensor, reference: dict | None = None,
                labels: torch.Tensor | None = None, splits: int = 10) -> dict[str, float]:
    """IS (mean, std over splits), FD against ``reference`` ({"mu", "sigma"}), accuracy on ``labels``."""
    feats, logits = extractor.extract(clips)
    # The splits of the IS must each hold a mix of classes: a real test set sorted by digit would score
    # ~1 per split. A fixed permutation makes the score independent of the clips' order.
    order = torch.randperm(len(logits), generator=torch.Generator().manual_seed(0))
    out = dict(zip(("is", "is_std"), inception_score(logits[order], splits)))
    if reference is not None:
        mu, sigma = feature_stats(feats)
        out["fd"] = frechet_distance(mu, sigma, reference["mu"], reference["sigma"])
    if labels is not None:
        out["accuracy"] = float((logits.argmax(1) == labels.cpu()).float().mean())
    return out


class AudioProtocol:
    """WaveGAN's protocol against one real dataset: the classifier (trained on ``train``, cached), the
    reference statistics of the ``test`` clips' features, and the real data's own scores (the reference
    IS of the held-out clips, the FD of the training clips against them, the classifier's test accuracy)."""

    def __init__(self, train, test):
        self.extractor = AudioClassifierExtractor(dataset=train)
        real = test.to_model(test.x)
        mu, sigma = feature_stats(self.extractor.extract(real)[0])
        self.reference = {"mu": mu, "sigma": sigma}
        test_scores = score_clips(self.extractor, real, None, test.y)
        train_scores = score_clips(self.extractor, train.to_model(train.x), self.reference, train.y)
        self.real = {"real_test_is": test_scores["is"], "real_train_is": train_scores["is"],
                     "real_train_vs_test_fd": train_scores["fd"], "classifier_test_accuracy": test_scores["accuracy"]}

    def score(self, recipe, n: int = 1000, seed: int = 0, nets=None, labels=None) -> dict[str, float]:
        """IS, FD and (conditional recipes: balanced digits, or ``labels``) the accuracy on the requested digit."""
        samples = recipe.sample(n, seed=seed, nets=nets, **({"labels": labels} if labels is not None else {}))
        return score_clips(self.extractor, samples.x, self.reference, samples.y)


def evaluate_audio(recipe, train, test, n: int = 1000, seed: int = 0, nets=None) -> dict[str, float]:
    """``AudioProtocol(train, test)``'s scores of ``n`` clips of ``recipe`` and the real data's reference scores."""
    protocol = AudioProtocol(train, test)
    return {**protocol.score(recipe, n, seed, nets), **protocol.real}
