"""The hostile-input catalogue (issue 18), part 2 of 3: the files a training run reads and writes.

Same rows and guarantees as ``test_bad_inputs.py`` (runner: ``catalogue.py``): exit code 2, one
``ganforge: error:`` line naming the problem (and the fix), no traceback, nothing half-written.
Surfaces: output paths, IDX and CIFAR files, CSV tables, YAML configs. Plus direct tests of the guards
that rows cannot show (a gzip bomb is not inflated, an oversized CIFAR batch is not read). Image
folders: ``test_hostile_images.py``; command-line values, sample files and runs:
``test_hostile_commands.py``.
"""
from __future__ import annotations

import gzip
import os
import pickle
import shutil
import struct
import tarfile

import numpy as np
import pytest

from ganforge.config import Config
from ganforge.data import load_dataset
from tests.reliability.catalogue import OUT, TINY, TOY, check_one_clear_error, edit_run, write_file, write_yaml

IDX = ["train", "--recipe", "vanilla", "--data", "fashion-mnist", "--data-dir", "{setup}", *TINY, "--out", OUT]
CIFAR = ["train", "--recipe", "vanilla", "--data", "cifar10", "--data-dir", "{setup}", *TINY, "--out", OUT]
TAB = ["train", "--recipe", "tabular-gan", "--data", "tabular", "--data-path", "{setup}", *TINY, "--batch-size", "10",
       "--out", OUT]


# -- builders -------------------------------------------------------------------------------------
def _idx_files(tmp, images: bytes | None = None, labels: bytes | None = None, gz=True, drop=()):
    """A fashion-mnist folder of 4 IDX files (2 samples of 28x28), with ``images``/``labels`` replacing the
    train files' content when given."""
    folder = tmp / "fashion-mnist"
    folder.mkdir()
    good_images = struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(2 * 28 * 28)
    good_labels = struct.pack(">II", 0x801, 2) + bytes([1, 2])
    files = {"train-images-idx3-ubyte": images if images is not None else good_images,
             "train-labels-idx1-ubyte": labels if labels is not None else good_labels,
             "t10k-images-idx3-ubyte": good_images, "t10k-labels-idx1-ubyte": good_labels}
    for name, content in files.items():
        if name not in drop:
            (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(content) if gz else content)
    return folder


def _cifar(tmp, train_payload: bytes | None = None, drop=(), archive: bytes | None = None):
    folder = tmp / "cifar"
    folder.mkdir()
    if archive is not None:
        (folder / "cifar-10-python.tar.gz").write_bytes(archive)
        return folder
    batches = folder / "cifar-10-batches-py"
    batches.mkdir()
    good = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        if name not in drop:
            (batches / name).write_bytes(train_payload if train_payload is not None and name == "data_batch_1"
                                         else good)
    return folder


def _cifar_batch(data, labels) -> bytes:
    return pickle.dumps({b"data": data, b"labels": labels}, protocol=2)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


GROUPS = {
    # --- output paths (issue 18, crash 2) -------------------------------------------------------------
    "output paths": [
        ("train-out-uncreatable", ["train", *TOY, "--out", "/proc/forbidden"], None,
         "cannot create the run folder /proc/forbidden"),
        ("train-out-under-a-file", ["train", *TOY, "--out", "{setup}/run"], lambda t, r: write_file(t, "x", "afile"),
         "cannot create the run folder"),
        ("train-out-is-a-file", ["train", *TOY, "--out", "{setup}"], lambda t, r: write_file(t, "x", "afile"),
         "is an existing file, not a folder"),
        ("train-out-name-too-long", ["train", *TOY, "--out", "{tmp}/" + "r" * 300], None, "File name too long"),
        ("train-default-out-uncreatable", ["train", *TOY, "--config", "{setup}"],
         lambda t, r: write_yaml(t, "out: /proc/forbidden/run\n"), "/proc/forbidden/run"),
        ("sample-out-uncreatable", ["sample", "{run}", "--out", "/proc/x/grid.npz"], None,
         "cannot create the folder of the --out file /proc/x"),
        ("sample-out-folder-uncreatable", ["sample", "{cgan}", "--out", "/proc/x/pngs"], None,
         "cannot create the --out folder /proc/x/pngs"),
        ("sample-out-is-a-folder", ["sample", "{run}", "--out", "{setup}"], lambda t, r: (t / "d.npz").mkdir()
         or t / "d.npz", "is an existing folder"),
        ("sample-out-name-too-long", ["sample", "{run}", "--out", "{tmp}/" + "s" * 300 + ".npz"], None,
         "File name too long"),
        ("sample-out-in-a-file", ["sample", "{run}", "--out", "{setup}/s.npz"], lambda t, r: write_file(t, "x", "afile"),
         "afile is an existing file, not a folder"),
        ("eval-results-file-is-a-folder", ["eval", "{setup}", "--metrics", "fid", "--samples", "8"],
         lambda t, r: edit_run(r, t, lambda run: (run / "metrics.json").mkdir()), "is an existing folder"),
    ],
    # --- IDX files (mnist / fashion-mnist) ----------------------------------------------------------
    "IDX files": [
        ("idx-labels-and-images-swapped", IDX,
         lambda t, r: _idx_files(t, images=struct.pack(">II", 0x801, 2) + bytes(2)), "to be an IDX file of images"),
        ("idx-truncated-payload", IDX,
         lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(100)), "is truncated"),
        ("idx-longer-than-header", IDX,
         lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(2 * 784 + 9)),
         "longer than its header says"),
        ("idx-huge-declared-dims", IDX,
         lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 2**31, 2**16, 2**16) + bytes(64)),
         "declares 9,223,372,036,854,775,824 bytes"),
        ("idx-zero-samples", IDX, lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 0, 28, 28),
                                                          labels=struct.pack(">II", 0x801, 0)), "holds no samples"),
        ("idx-count-mismatch", IDX, lambda t, r: _idx_files(t, labels=struct.pack(">II", 0x801, 3) + bytes(3)),
         "do not belong together"),
        ("idx-label-out-of-range", IDX, lambda t, r: _idx_files(t, labels=struct.pack(">II", 0x801, 2) + bytes([1, 42])),
         "label 42, outside 0..9"),
        ("idx-truncated-gzip", IDX, lambda t, r: _idx_files(t) and (t / "fashion-mnist/train-images-idx3-ubyte.gz")
         .write_bytes(gzip.compress(os.urandom(3000))[:1500]) and t / "fashion-mnist", "truncated or corrupt gzip"),
        ("idx-gzip-bomb", IDX, lambda t, r: _idx_files(t, images=struct.pack(">IIII", 0x803, 2, 28, 28)
                                                       + bytes(8 << 20)), "longer than its header says"),
        ("idx-header-declares-64-gib", IDX, lambda t, r: _idx_files(
            t, images=struct.pack(">IIII", 0x803, 2**20, 256, 256) + bytes(64)), "more than the 4 GiB"),
        ("idx-raw-header-declares-64-gib", IDX, lambda t, r: _idx_files(
            t, images=struct.pack(">IIII", 0x803, 2**20, 256, 256) + bytes(64), gz=False), "more than the 4 GiB"),
        ("idx-missing-labels-file", IDX, lambda t, r: _idx_files(t, drop=("train-labels-idx1-ubyte",)),
         "train-labels-idx1-ubyte"),
        ("idx-empty-file", IDX, lambda t, r: _idx_files(t, images=b"", gz=False), "too short (0 bytes)"),
    ],
    # --- CIFAR-10 python batches ----------------------------------------------------------------------
    "CIFAR batches": [
        ("cifar-malicious-pickle", CIFAR, lambda t, r: _cifar(t, pickle.dumps(_Exploit())), "refused"),
        ("cifar-not-a-pickle", CIFAR, lambda t, r: _cifar(t, b"hello, not a pickle"), "data_batch_1"),
        ("cifar-truncated-pickle", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 3072), np.uint8),
                                                                              [0, 1])[:50]), "data_batch_1"),
        ("cifar-batch-is-a-list", CIFAR, lambda t, r: _cifar(t, pickle.dumps([1, 2, 3])), "not a CIFAR-10 batch dict"),
        ("cifar-wrong-image-shape", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 100), np.uint8), [0, 1])),
         "'data' must be a uint8 array"),
        ("cifar-float-images", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 3072), np.float32), [0, 1])),
         "'data' must be a uint8 array"),
        ("cifar-label-count-mismatch", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 3072), np.uint8), [0])),
         "one integer per image"),
        ("cifar-label-out-of-range", CIFAR, lambda t, r: _cifar(t, _cifar_batch(np.zeros((2, 3072), np.uint8), [0, 10])),
         "labels outside 0..9"),
        ("cifar-missing-batch", CIFAR, lambda t, r: _cifar(t, drop=("data_batch_3",)), "data_batch_3 missing"),
        ("cifar-corrupt-archive", CIFAR, lambda t, r: _cifar(t, archive=gzip.compress(b"x" * 5000)[:100]),
         "truncated or corrupt"),
    ],
    # --- CSV tables ----------------------------------------------------------------------------------
    "CSV tables": [
        ("csv-only-a-header", TAB, lambda t, r: write_file(t, "age,job\n"), "table.csv"),
        ("csv-only-whitespace", TAB, lambda t, r: write_file(t, "\n\n   \n"), "is empty"),
        ("csv-non-utf8", TAB, lambda t, r: write_file(t, "name,city\nJos\xe9,M\xe1laga\nAna,Le\xf3n\n".encode("latin-1")),
         "UTF-8"),
        ("csv-binary-file", TAB, lambda t, r: write_file(t, bytes(range(256)) * 4), "table.csv"),
        ("csv-is-a-directory", TAB, lambda t, r: (t / "dir.csv").mkdir() or t / "dir.csv", "is a directory"),
        ("csv-target-not-a-column", TAB + ["--target", "label"], lambda t, r: write_file(t, "a,b\n1,2\n3,4\n5,6\n"),
         "target column 'label' is not in"),
        ("csv-ragged-rows", TAB, lambda t, r: write_file(t, "a,b\n1,2\n3,4,5,6\n7,8\n"), "not a readable CSV"),
        ("csv-unclosed-quote", TAB, lambda t, r: write_file(t, 'a,b\n1,"2\n3,4\n'), "table.csv"),
        ("csv-one-row", TAB, lambda t, r: write_file(t, "a,b\n1,2\n"), "table.csv"),
        ("csv-all-empty-column", TAB, lambda t, r: write_file(t, "a,b\n1,\n2,\n3,\n4,\n"), "'b'"),
        ("csv-infinite-values", TAB, lambda t, r: write_file(t, "a,b\n1,inf\n2,3\n4,-inf\n5,6\n"),
         "infinite values in column(s) ['b']"),
        ("csv-target-one-class", TAB + ["--target", "y"], lambda t, r: write_file(t, "a,y\n1,k\n2,k\n3,k\n4,k\n"), "'y'"),
        ("csv-missing-data-path", ["train", "--recipe", "tabular-gan", "--data", "tabular", "--out", OUT], None,
         "--data-path"),
    ],
    # --- YAML configs --------------------------------------------------------------------------------
    "YAML configs": [
        ("yaml-billion-laughs", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: write_yaml(t, "a: &a [x, x]\n"
         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\n"), "unknown config key"),
        ("yaml-laughs-in-a-key", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: write_yaml(t, "steps: &a [x, x]\n"
         "g_width: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nd_width: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
         "z_dim: [*c, *c, *c, *c, *c, *c, *c, *c]\n"), "'steps' must be of type int"),
        ("yaml-binary", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: write_yaml(t, bytes(range(256))),
         "config.yaml"),
        ("yaml-non-utf8", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: write_yaml(t, "recipe: caf\xe9\n".encode("latin-1")), "config.yaml"),
        ("yaml-tabs-indent", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: write_yaml(t, "options:\n\tn_samples: 5\n"), "not valid YAML"),
        ("yaml-duplicate-documents", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: write_yaml(t, "steps: 5\n---\nsteps: 6\n"), "config.yaml"),
        ("yaml-scalar-document", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: write_yaml(t, "dcgan\n"),
         "mapping"),
        ("yaml-null-key", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: write_yaml(t, "~: 3\n"),
         "config key"),
        ("yaml-nested-options-tag", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: write_yaml(t, "options: {a: !!python/name:os.system }\n"), "not valid YAML"),
        ("yaml-is-a-directory", ["train", "--config", "{setup}", "--out", OUT],
         lambda t, r: (t / "conf.yaml").mkdir() or t / "conf.yaml", "conf.yaml"),
    ],
}
CASES = [case for cases in GROUPS.values() for case in cases]
SURFACES = dict((name, [c[0] for c in cases]) for name, cases in GROUPS.items())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_one_clear_error(tmp_path, trained, capsys, monkeypatch, case):
    check_one_clear_error(case, tmp_path, trained, capsys, monkeypatch)


def test_an_idx_gzip_bomb_is_never_inflated_past_its_header(tmp_path):
    """64 MiB of zeros (65 KB gzipped) behind a header declaring 2 images of 28x28: reading stops one byte
    past the declared 1568 values, whatever the stream would inflate to."""
    from ganforge.data import idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(64 << 20), compresslevel=1))
    assert path.stat().st_size < 1 << 20
    assert len(idx.read_bytes(path)) == 16 + 2 * 28 * 28 + 1


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "tar-archive"])
def test_an_oversized_cifar_batch_is_refused_unread(tmp_path, monkeypatch, packed):
    """A batch file (or tar member) larger than any official batch is refused from its size alone (the
    limit lowered here, so that the test needs no gigabyte file)."""
    from ganforge.data import cifar
    from ganforge.errors import GanforgeError

    monkeypatch.setattr(cifar, "MAX_BATCH_BYTES", 1000)
    folder = _cifar(tmp_path)
    if packed:
        with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
            tar.add(folder / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        shutil.rmtree(folder)
        folder = tmp_path
    reads = []
    monkeypatch.setattr(cifar, "safe_unpickle", lambda *a: reads.append(a))
    with pytest.raises(GanforgeError, match="far more than a CIFAR-10 batch"):
        load_dataset(Config(data="cifar10", data_dir=str(folder)), "train")
    assert reads == []
