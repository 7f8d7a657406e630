"""captions: an image folder + a CSV of (file, caption): tokens, the training vocabulary, splits, errors."""
import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.data.captions import UNK, build_vocab, decode, encode, tokenize
from ganforge.errors import GanforgeError

CAPTIONS = ["Red heart", "blue heart", "red circle: big", "green square", "blue circle", "a purple thing"]


def tree(root, rows=None, header="file,caption,split"):
    (root / "img").mkdir(parents=True, exist_ok=True)
    lines = [header]
    for i, caption in enumerate(CAPTIONS):
        Image.fromarray(np.full((12, 12, 4), (i * 40, 0, 0, 255), np.uint8), "RGBA").save(root / "img" / f"{i}.png")
        lines.append(f'{i}.png,"{caption}",{"test" if i == 5 else "train"}')
    (root / "metadata.csv").write_text("\n".join(rows or lines) + "\n")
    return root


def load(root, split="train", **options):
    return load_dataset(Config(data="captions", data_dir=str(root), image_size=8, options={"images": "img", **options}),
                        split)


def test_tokens_vocabulary_from_training_rows_and_splits(tmp_path):
    train, test = load(tree(tmp_path)), load(tmp_path, "test")
    assert len(train) == 5 and len(test) == 1 and train.x.shape == (5, 3, 8, 8)
    vocab = train.meta["vocab"]
    assert vocab[:2] == ["<pad>", "<unk>"] and test.meta["vocab"] == vocab
    assert vocab[2:6] == ["blue", "circle", "heart", "red"] and "purple" not in vocab  # frequent first; no test words
    assert train.field_kinds["caption"] == "tokens" and train.fields["caption"].dtype == torch.int64
    assert decode(train.fields["caption"], vocab)[:3] == ["red heart", "blue heart", "red circle big"]
    assert decode(test.fields["caption"], vocab) == ["<unk> <unk> <unk>"]
    # max_words cuts, min_word_count drops rare words to <unk>
    short = load(tmp_path, max_words=1, min_word_count=2)
    assert short.fields["caption"].shape == (5, 1) and short.meta["vocab"][2:] == ["blue", "circle", "heart", "red"]


def test_helpers():
    assert tokenize("Kiss: woman, man (2)") == ["kiss", "woman", "man", "2"]
    vocab = build_vocab(["a b", "b c"])
    assert vocab == ["<pad>", "<unk>", "b", "a", "c"]
    tokens, unknown = encode(["b z a"], vocab, 4)
    assert tokens.tolist() == [[2, UNK, 3, 0]] and unknown == [["z"]]


@pytest.mark.parametrize("case, message", [
    ("no-column", "no caption column 'caption'"),
    ("missing-file", "missing from"),
    ("empty-caption", "have no words"),
    ("no-csv", "does not exist"),
])
def test_clear_errors(tmp_path, case, message):
    tree(tmp_path)
    if case == "no-column":
        (tmp_path / "metadata.csv").write_text("file,text\n0.png,red\n")
    elif case == "missing-file":
        (tmp_path / "metadata.csv").write_text("file,caption\n0.png,red\n99.png,blue\n")
    elif case == "empty-caption":
        (tmp_path / "metadata.csv").write_text("file,caption\n0.png,red\n1.png,!!\n")
    else:
        (tmp_path / "metadata.csv").unlink()
    with pytest.raises(GanforgeError, match=message):
        load(tmp_path)
