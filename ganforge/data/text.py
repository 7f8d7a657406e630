"""Token datasets for sequence models: lines of text (``text``) and SeqGAN's synthetic oracle (``oracle``).

``text``: one sentence per line, read from ``--data-path FILE`` or the files of ``--data-dir`` (or
``$GANFORGE_DATA/text``). Files whose name contains ``train`` / ``test`` are those splits; without
such names every ``.txt`` file is read and 10% of the lines (by a hash of the line) are the test split.
Tokenizers (``--options '{tokenizer: word}'``):

- ``word`` (default): lower-cased words (letters, digits, apostrophes) and single punctuation marks,
  e.g. ``"Don't panic!"`` -> ``don't panic !``; samples are decoded by joining tokens with spaces;
- ``char``: every character, case kept; decoded by concatenation.

The vocabulary is built from the training lines only (tokens seen at least ``min_count`` times; the
rest become ``<unk>``) and saved with the run (``data.json`` -> ``meta.vocab``), so a trained run
decodes without the data. Id 0 is ``<eos>``: it ends every line, pads it to ``max_len`` tokens and is
the generator's start token (SeqGAN pads its sentences with an end token the same way). Lines longer
than ``max_len - 1`` tokens are left out (counted in ``meta.dropped``).

``oracle``: the synthetic benchmark of SeqGAN (Yu et al. 2017): a random LSTM (vocabulary 5,000,
embedding and hidden size 32, parameters N(0, 1)) seeded by ``oracle_seed`` draws 10,000 training
sequences of length 20 (and ``n_test_samples`` held-out ones for the generator's NLL-test). The
oracle's hyper-parameters and seed are in ``meta.oracle``: ``oracle_of(meta)`` rebuilds it for the
oracle-NLL metric.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import torch

from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError
from ganforge.nets.sequence import LSTMGenerator, oracle_lstm
from ganforge.options import Option

EOS, UNK = "<eos>", "<unk>"
TOKENIZERS = ("word", "char")
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")
TEST_FRACTION_BYTE = 26  # first hash byte below this: test (26 / 256 ~ 10%)


def tokenize(line: str, tokenizer: str) -> list[str]:
    return _WORD.findall(line.lower()) if tokenizer == "word" else list(line)


def _read_lines(files: list[Path]) -> list[str]:
    lines = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise GanforgeError(f"text file {f} is not UTF-8; convert it (e.g. iconv -t UTF-8).") from None
        lines += [line.strip() for line in text.splitlines() if line.strip()]
    return lines


def _is_test(line: str) -> bool:
    return hashlib.sha256(line.encode()).digest()[0] < TEST_FRACTION_BYTE


def text_lines(cfg) -> tuple[list[str], list[str], str]:
    """(train lines, test lines, where they came from)."""
    from ganforge.data import data_dir

    if cfg.data_path:
        path = Path(cfg.data_path).expanduser()
        if not path.is_file():
            raise GanforgeError(f"--data-path {path} is not a file; give a UTF-8 text file with one sentence per line.")
        lines = _read_lines([path])
        return [s for s in lines if not _is_test(s)], [s for s in lines if _is_test(s)], str(path)
    root = Path(data_dir(cfg, "text")).expanduser()
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix == ".txt") if root.is_dir() else []
    if not files:
        raise GanforgeError(f"no .txt files in {root}; point --data-dir at a folder of text files (one sentence "
                            f"per line) or --data-path at one file.")
    train = [f for f in files if "train" in f.name]
    test = [f for f in files if "test" in f.name]
    if train and test:
        return _read_lines(train), _read_lines(test), str(root)
    lines = _read_lines(files)
    return [s for s in lines if not _is_test(s)], [s for s in lines if _is_test(s)], str(root)


def build_vocab(lines: list[list[str]], min_count: int) -> list[str]:
    counts = Counter(t for line in lines for t in line)
    words = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return [EOS, UNK] + words


def encode(lines: list[list[str]], vocab: list[str], max_len: int) -> tuple[torch.Tensor, int]:
    """int64 (N, max_len): token ids, then <eos> to the end; lines that do not fit are dropped."""
    index = {t: i for i, t in enumerate(vocab)}
    kept = [line for line in lines if len(line) < max_len]
    x = torch.zeros(len(kept), max_len, dtype=torch.long)  # 0 = <eos>
    for i, line in enumerate(kept):
        x[i, :len(line)] = torch.tensor([index.get(t, 1) for t in line], dtype=torch.long)
    return x, len(lines) - len(kept)


def load_text(cfg, split: str) -> Dataset:
    opts = cfg.options or {}
    tokenizer, max_len, min_count = opts.get("tokenizer", "word"), opts.get("max_len", 32), opts.get("min_count", 2)
    if tokenizer not in TOKENIZERS:
        raise GanforgeError(f"option tokenizer is {tokenizer!r}; use one of {', '.join(TOKENIZERS)}.")
    if not isinstance(max_len, int) or not 2 <= max_len <= 4096:
        raise GanforgeError(f"option max_len is {max_len!r}; it must be an integer in [2, 4096].")
    if not isinstance(min_count, int) or min_count < 1:
        raise GanforgeError(f"option min_count is {min_count!r}; it must be an integer >= 1.")
    train, test, source = text_lines(cfg)
    train_tokens = [tokenize(s, tokenizer) for s in train]
    vocab = build_vocab(train_tokens, min_count)
    tokens = train_tokens if split == "train" else [tokenize(s, tokenizer) for s in test]
    x, dropped = encode(tokens, vocab, max_len)
    if len(x) == 0:
        raise GanforgeError(f"no {split} line of {source} fits in max_len={max_len} tokens; raise --options max_len.")
    meta = {"tokenizer": tokenizer, "vocab": vocab, "vocab_size": len(vocab), "eos": 0, "unk": 1,
            "max_len": max_len, "source": source, "dropped": dropped}
    return Dataset("text", x, kind="tokens", meta=meta)


def load_oracle(cfg, split: str) -> Dataset:
    opts = cfg.options or {}
    spec = {"vocab": opts.get("vocab_size", 5000), "emb_dim": opts.get("oracle_emb", 32),
            "hidden_dim": opts.get("oracle_hidden", 32), "seed": opts.get("oracle_seed", 0)}
    length = opts.get("seq_len", 20)
    n = opts.get("n_samples", 10_000) if split == "train" else opts.get("n_test_samples", 2_000)
    for key, value in {**spec, "seq_len": length, "n": n}.items():
        if not isinstance(value, int) or value < (0 if key == "seed" else 1):
            raise GanforgeError(f"oracle option {key} is {value!r}; it must be a positive integer.")
    oracle = oracle_lstm(**spec)
    # The two splits are independent draws from the oracle (fixed seeds: the data never follows --seed).
    g = torch.Generator().manual_seed(spec["seed"] * 2 + (0 if split == "train" else 1) + 0x5E9)
    x = torch.cat([oracle.sample(len(chunk), length, generator=g) for chunk in torch.arange(n).split(2000)])
    meta = {"oracle": {**spec, "seq_len": length}, "vocab_size": spec["vocab"], "eos": None}
    return Dataset("oracle", x, kind="tokens", meta=meta)


def oracle_of(meta: dict) -> LSTMGenerator:
    """The oracle LSTM of an ``oracle`` dataset (from its meta, e.g. a run's data.json)."""
    if "oracle" not in meta:
        raise GanforgeError("oracle NLL needs the synthetic oracle dataset (--data oracle); this data has no oracle.")
    spec = meta["oracle"]
    return oracle_lstm(spec["vocab"], spec["emb_dim"], spec["hidden_dim"], spec["seed"])


def decode_tokens(meta: dict, x: torch.Tensor) -> list[list[str]]:
    """Token ids (N, T) -> token strings per sequence, cut at the first <eos> (oracle data: the ids)."""
    vocab, eos = meta.get("vocab"), meta.get("eos")
    out = []
    for row in x.tolist():
        if eos is not None and eos in row:
            row = row[:row.index(eos)]
        out.append([vocab[i] for i in row] if vocab else [str(i) for i in row])
    return out


def detokenize(meta: dict, tokens: list[str]) -> str:
    return "".join(tokens) if meta.get("tokenizer") == "char" else " ".join(tokens)


def _register():
    from ganforge.data import DATASETS

    DATASETS.register("text", options={
        "tokenizer": Option(str, "word", "word (lower-cased words and punctuation) or char"),
        "max_len": Option(int, 32, "tokens per sequence including the final <eos>; longer lines are left out"),
        "min_count": Option(int, 2, "tokens seen fewer times in the training lines become <unk>"),
    })(load_text)
    DATASETS.register("oracle", options={
        "vocab_size": Option(int, 5000, "oracle vocabulary"),
        "oracle_emb": Option(int, 32, "oracle embedding size"),
        "oracle_hidden": Option(int, 32, "oracle LSTM hidden size"),
        "oracle_seed": Option(int, 0, "seed of the oracle's N(0, 1) parameters"),
        "seq_len": Option(int, 20, "sequence length"),
        "n_samples": Option(int, 10_000, "training sequences drawn from the oracle"),
        "n_test_samples": Option(int, 2_000, "held-out sequences (the generator's NLL-test)"),
    })(load_oracle)



def write_sentences(dataset: Dataset, x: torch.Tensor, path) -> None:
    """Generated token ids -> one decoded sentence per line in a UTF-8 text file (written atomically)."""
    from ganforge.utils.files import atomic_write_text

    if dataset.kind != "tokens":
        raise GanforgeError(f"--out .txt is for token-sequence runs (seqgan, mle-lm); this run generates "
                            f"{dataset.kind} data: use .png, .npz or .csv.")
    lines = [detokenize(dataset.meta, tokens) for tokens in decode_tokens(dataset.meta, x)]
    atomic_write_text(Path(path), "\n".join(lines) + "\n")


_register()
