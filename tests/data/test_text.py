"""Token datasets: lines of text (word / char tokenizers, vocabulary in meta, splits) and SeqGAN's oracle."""
from __future__ import annotations

import pytest
import torch

from ganforge.config import make_config
from ganforge.data import DATASETS, load_dataset
from ganforge.data.text import decode_tokens, detokenize
from ganforge.errors import GanforgeError
from tests.conftest import SHARED_DATA

TEXT = SHARED_DATA / "text"


def _cfg(**kw):
    return make_config({"recipe": "mle-lm", **kw})


@pytest.mark.skipif(not (TEXT / "fortunes-train.txt").is_file(), reason="shared text data not available")
def test_fortunes_load_as_word_tokens_that_decode_back():
    train = load_dataset(_cfg(data="text", data_dir=str(TEXT)), "train")
    test = load_dataset(_cfg(data="text", data_dir=str(TEXT)), "test")
    assert train.kind == "tokens" and train.x.dtype == torch.long and train.shape == (32,)
    assert 3500 < len(train) <= 4229 and 350 < len(test) <= 451
    assert train.meta["vocab"] == test.meta["vocab"] and train.meta["vocab"][:2] == ["<eos>", "<unk>"]
    # the first test line, "An ounce of prevention is worth a pound of purge.": its rare words are <unk>
    first = detokenize(test.meta, decode_tokens(test.meta, test.x[:1])[0])
    assert first == '" an ounce of <unk> is worth a pound of <unk> . "'
    assert int(train.x[:, -1].max()) == 0  # every line ends with <eos> padding


def test_single_file_char_tokens_hash_split_and_long_lines(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(f"line number {i}" for i in range(200)) + "\n" + "x" * 100 + "\n")
    cfg = _cfg(data="text", data_path=str(path), options={"tokenizer": "char", "max_len": 20, "min_count": 1})
    train, test = load_dataset(cfg, "train"), load_dataset(cfg, "test")
    assert 150 < len(train) < 200 and 5 < len(test) < 50 and len(train) + len(test) == 200  # the long line is out
    assert train.meta["dropped"] + test.meta["dropped"] == 1
    texts = {detokenize(train.meta, t) for t in decode_tokens(train.meta, train.x)}
    assert texts <= {f"line number {i}" for i in range(200)}


def test_bad_text_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(GanforgeError, match="no .txt files"):
        load_dataset(_cfg(data="text", data_dir=str(tmp_path)))
    with pytest.raises(GanforgeError, match="tokenizer"):
        (tmp_path / "a.txt").write_text("hello world\n")
        load_dataset(_cfg(data="text", data_dir=str(tmp_path), options={"tokenizer": "bpe"}))


def test_oracle_data_is_seeded_and_independent_of_the_training_seed():
    options = {"vocab_size": 300, "n_samples": 256, "n_test_samples": 64}
    a = DATASETS.get("oracle")(_cfg(seed=1, options=options), "train")
    b = DATASETS.get("oracle")(_cfg(seed=2, options=options), "train")
    other = DATASETS.get("oracle")(_cfg(options={**options, "oracle_seed": 1}), "train")
    test = DATASETS.get("oracle")(_cfg(options=options), "test")
    assert a.x.shape == (256, 20) and test.x.shape == (64, 20) and torch.equal(a.x, b.x)
    assert not torch.equal(a.x, other.x) and not torch.equal(a.x[:64], test.x)
    assert a.meta["oracle"] == {"vocab": 300, "emb_dim": 32, "hidden_dim": 32, "seed": 0, "seq_len": 20}
