"""Every command of the README's command-line block runs (tiny step counts, on the test data), and so does
its Python block: the README cannot drift from the code."""
from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganforge.cli import main
from tests.conftest import SHARED_DATA, SHARED_MODELS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TINY_STEPS = {"train": "4", "resume": "6"}
SKIPPED = ("pip ", "python -m pytest")  # the install and the suite itself: CI's own commands


def readme_commands() -> list[str]:
    block = re.search(r"## Command line\n\n```bash\n(.*?)```", README, flags=re.S).group(1)
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith(SKIPPED)]


def _tiny(argv: list[str]) -> list[str]:
    """Step counts shrunk: a first training 4 steps, a resumed one 6 (so it still extends)."""
    out = list(argv)
    if out[:1] == ["train"]:
        steps = TINY_STEPS["resume" if "--resume" in out else "train"]
        if "--steps" in out:
            out[out.index("--steps") + 1] = steps
        else:
            out += ["--steps", steps]
        out += ["--sample-every", "0", "--checkpoint-every", "0"]
    if out[:2] == ["bench", "train"]:
        out += ["--steps", "2", "--warmup", "1", "--batch-size", "8"]
    if out[:1] == ["eval"]:  # Inception features are the slow part on a CPU: fewer samples there
        out += ["--samples", "64" if "inception" in out else "200"]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The files the README's placeholders stand for: my.yaml, file.csv, real_pngs/ and DATA."""
    from ganforge.config import make_config
    from ganforge.data import load_dataset
    from ganforge.utils.images import save_png

    work = tmp_path_factory.mktemp("readme")
    (work / "my.yaml").write_text("recipe: hinge\ng_width: 32\nd_width: 32\n")
    rng = np.random.default_rng(0)
    height = rng.normal(170, 10, 600)
    pd.DataFrame({"height": height.round(1), "colour": rng.choice(["red", "blue"], 600),
                  "label": np.where(height > 170, "tall", "short")}).to_csv(work / "file.csv", index=False)
    real = work / "real_pngs"
    real.mkdir()
    test = load_dataset(make_config({"data": "fashion-mnist", "data_dir": str(SHARED_DATA / "fashion-mnist")}), "test")
    for i in range(200):
        save_png(test.x[i], real / f"{i:04d}.png")
    return work


def test_the_readme_block_is_found():
    commands = readme_commands()
    assert len(commands) >= 15 and commands[0].startswith("ganforge list ")


@pytest.mark.parametrize("index", range(len(readme_commands())))
def test_readme_command(index, workdir, monkeypatch, capsys):
    """Commands run in order in one folder (later ones use the runs earlier ones made)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("the shared test data is not here")
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("GANFORGE_INCEPTION", str(SHARED_MODELS / "inception-2015-12-05-pool3.torchscript.pt"))
    line = readme_commands()[index].replace("DATA/", f"{SHARED_DATA}/")
    argv = shlex.split(line, comments=True)
    if argv[0] == "ganforge":
        assert main(_tiny(argv[1:])) == 0, line
    elif argv[0] == "torchrun":
        port = _free_port()
        rest = argv[argv.index("-m") + 2:]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--master_addr", "127.0.0.1",
               "--master_port", str(port), *[a for a in argv[1:argv.index("-m")]], "-m", "ganforge", *_tiny(rest),
               "--device", "cpu"]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "GANFORGE_DIST_TIMEOUT": "60", "PYTHONPATH": str(ROOT)}
        if sys.platform.startswith("linux"):
            env["GLOO_SOCKET_IFNAME"] = "lo"
        result = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
    else:
        pytest.fail(f"the README runs {argv[0]!r}, which this test does not know how to run")


def test_readme_python_block(tmp_path, monkeypatch):
    code = re.search(r"## Python\n\n```python\n(.*?)```", README, flags=re.S).group(1)
    code = re.sub(r"steps=\d+", "steps=4", code)
    monkeypatch.chdir(tmp_path)
    # the block refers to runs/cgan (trained in the command-line block): make one here
    assert main(["train", "--recipe", "cgan", "--data", "digits", "--steps", "2", "--sample-every", "0",
                 "--out", "runs/cgan"]) == 0
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_readme_quickstart_and_deployment_blocks(workdir, monkeypatch):
    """The quickstart's `ganforge train`, then every deployment command: export, a real `ganforge serve`
    process (on a free port), and the curl request against it."""
    import shutil
    import time
    import urllib.request

    pytest.importorskip("fastapi")
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(workdir)
    quickstart = re.search(r"## Quickstart.*?```bash\n(.*?)```", README, flags=re.S).group(1)
    assert quickstart.strip().endswith("&& ganforge train")
    assert main(_tiny(["train"])) == 0 and (workdir / "runs" / "dcgan-digits").is_dir()
    if not (workdir / "runs" / "cgan").is_dir():  # made by the command-line block when it ran first
        assert main(_tiny(["train", "--recipe", "cgan", "--data", "digits", "--out", "runs/cgan"])) == 0
    block = re.search(r"## Deployment\n\n```bash\n(.*?)```", README, flags=re.S).group(1)
    lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()
             if line.strip() and not line.strip().startswith(SKIPPED)]
    assert [line.split()[0] for line in lines] == ["ganforge", "ganforge", "ganforge", "curl"]
    port = str(_free_port())
    server = None
    try:
        for line in lines:
            argv = shlex.split(line.replace("localhost:8000", f"127.0.0.1:{port}"), comments=True)
            if argv[:2] == ["ganforge", "serve"]:
                argv[argv.index("--port") + 1] = port
                env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
                server = subprocess.Popen([sys.executable, "-m", "ganforge", *argv[1:]], cwd=workdir, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for _ in range(240):
                    try:
                        if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).status == 200:
                            break
                    except OSError:
                        assert server.poll() is None, server.stderr.read().decode()[-2000:]
                        time.sleep(0.5)
                else:
                    pytest.fail("ganforge serve did not answer /health within 2 minutes")
            elif argv[0] == "ganforge":
                assert main(argv[1:]) == 0, line
            elif argv[0] == "curl":
                if shutil.which("curl") is None:
                    pytest.skip("curl is not installed")
                out = workdir / argv[-1] if ">" in line else None
                cmd = line.replace("localhost:8000", f"127.0.0.1:{port}")
                assert subprocess.run(cmd, shell=True, cwd=workdir, timeout=120).returncode == 0, line
                assert out is None or out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
