"""R-precision: the ranking protocol on a matcher with known answers, and a matching model trained here on
real OpenMoji captions that ranks the true caption first far above chance where an untrained one does not."""
from __future__ import annotations

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.data.captions import decode
from ganforge.errors import GanforgeError
from ganforge.metrics.rprecision import Matcher, load_matcher, r_precision
from ganforge.train.trainer import Trainer
from tests.conftest import SHARED_DATA
from tests.recipes.learning import QUIET, one_thread

N = 120


class FirstWord(nn.Module):
    def forward(self, tokens):
        return F.one_hot(tokens[:, 0], N + 2).float()


def test_protocol_on_a_matcher_with_known_answers():
    vocab = ["<pad>", "<unk>"] + [f"w{i}" for i in range(N)]
    matcher = Matcher(FirstWord(), nn.Flatten(), vocab, 4)
    captions = [f"w{i} thing" for i in range(N)]
    images = F.one_hot(torch.arange(N) + 2, N + 2).float()[:, None, None, :]
    perfect = r_precision(images, captions, matcher)
    assert perfect["r_precision"] == 1.0 and perfect["chance"] == 0.01 and perfect["images"] == N
    shuffled = r_precision(images[torch.randperm(N, generator=torch.Generator().manual_seed(0))], captions, matcher)
    assert shuffled["r_precision"] < 0.05
    with pytest.raises(GanforgeError, match="one caption per image"):
        r_precision(images, captions[:-1], matcher)
    with pytest.raises(GanforgeError, match="at least 100 distinct captions; there are 50"):
        r_precision(images[:50], captions[:50], matcher)


@pytest.fixture(scope="module")
def openmoji(tmp_path_factory):
    """The first 600 training rows of OpenMoji without skin-tone variants (which differ only in the tone words)."""
    root = SHARED_DATA / "emoji" / "openmoji"
    if not (root / "metadata.csv").is_file():
        pytest.skip(f"emoji data not found at {root}; set GANFORGE_TEST_DATA")
    table = pd.read_csv(root / "metadata.csv", dtype=str, keep_default_na=False)
    table = table[(table.split == "train") & (table.skintone == "")].head(600)
    folder = tmp_path_factory.mktemp("openmoji")
    table[["file", "annotation"]].to_csv(folder / "metadata.csv", index=False)
    return folder, root / "color"


def test_a_trained_matching_model_ranks_the_true_caption_first(openmoji, tmp_path):
    folder, images = openmoji
    cfg = make_config({**QUIET, "recipe": "text-encoder", "data": "captions", "data_dir": str(folder),
                       "image_size": 16, "steps": 300, "batch_size": 32, "d_width": 16, "lr_d": 1e-3, "seed": 0,
                       "options": {"images": str(images), "caption_column": "annotation", "test_fraction": 0.05},
                       "out": str(tmp_path / "matcher"), "checkpoint_every": 300})
    with one_thread():
        data = load_dataset(cfg)
        untrained = Trainer(cfg, run_dir=None, dataset=data, callbacks=[]).recipe
        Trainer(cfg, dataset=data, callbacks=[]).fit()
    captions = decode(data.fields["caption"], data.meta["vocab"])
    x = data.to_model(data.x)
    trained = r_precision(x, captions, load_matcher(tmp_path / "matcher"))["r_precision"]
    control = r_precision(x, captions, Matcher(untrained.text_encoder, untrained.image_encoder,
                                               data.meta["vocab"], 16))["r_precision"]
    assert control < 0.05 < 0.3 < trained, (control, trained)  # chance is 0.01
