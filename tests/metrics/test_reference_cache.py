"""Reference statistics are cached under a key made of the data's content hash, the extractor's identity
(weights hash, precision, resize convention), the sample count and the subset seed."""
from __future__ import annotations

from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.data.base import Dataset
from ganforge.metrics import evaluate
from ganforge.metrics.extractors.inception import RESIZE_CONVENTION, InceptionExtractor
from ganforge.metrics.reference import reference_key


class _Stub:
    name, has_logits = "stub", False

    def __init__(self, key="stub-v1"):
        self.key = key


def test_the_key_follows_the_content_and_the_extractor():
    test = load_dataset(Config(data="digits"), "test")
    key, meta = reference_key(test, _Stub(), 100)
    assert reference_key(test, _Stub(), 100)[0] == key  # deterministic
    changed = Dataset(test.name, test.x.clone(), test.y.clone(), test.num_classes)
    changed.x[17, 0, 3, 4] ^= 1  # one pixel of one image
    assert reference_key(changed, _Stub(), 100)[0] != key
    same = Dataset("renamed-copy", test.x.clone(), test.y.clone(), test.num_classes)
    assert reference_key(same, _Stub(), 100)[1]["fingerprint"] == meta["fingerprint"]  # content, not name
    assert reference_key(test, _Stub("stub-v2"), 100)[0] != key
    assert reference_key(test, _Stub(), 101)[0] != key
    assert reference_key(test, _Stub(), 100, seed=1)[0] != key


def test_inception_key_names_weights_hash_precision_and_resize(inception_torchscript):
    fp32 = InceptionExtractor(inception_weights=str(inception_torchscript), precision="fp32")
    bf16 = InceptionExtractor(inception_weights=str(inception_torchscript), precision="bf16")
    assert fp32.key != bf16.key
    assert fp32.key == f"inception-7ff4a85c3a6378f0-fp32-{RESIZE_CONVENTION}"


def test_a_second_evaluate_reads_the_reference_from_the_cache(inception_torchscript, monkeypatch):
    test = load_dataset(Config(data="digits"), "test")
    real = Dataset("digits-mini", test.x[:6].clone(), test.y[:6].clone(), 10)
    fake = test.to_model(test.x[6:12])
    options = dict(extractor="inception", inception_weights=str(inception_torchscript), precision="fp32")
    first = evaluate(fake, real, "fid", **options)
    calls = []
    original = InceptionExtractor.extract
    monkeypatch.setattr(InceptionExtractor, "extract",
                        lambda self, x, logits=False: calls.append(len(x)) or original(self, x, logits))
    assert evaluate(fake, real, "fid", **options) == first
    assert calls == [6]  # the fakes only
    real.x[0, 0, 0, 0] ^= 1  # one pixel changed: a new key, so the real side is extracted again
    evaluate(fake, real, "fid", **options)
    assert calls == [6, 6, 6]
