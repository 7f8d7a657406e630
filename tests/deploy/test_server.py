"""ganforge serve: every endpoint, micro-batching, limits, API key, metrics, and a catalogue of malformed
requests (each a 4xx with a one-line reason; the server stays healthy)."""
from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import time

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from ganforge.cli import main  # noqa: E402
from ganforge.deploy.api import Settings  # noqa: E402
from ganforge.deploy.server import create_app  # noqa: E402
from tests.deploy.conftest import LiveServer  # noqa: E402

KEY = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def app(generators):
    models = {"dc": generators["dcgan"], "cg": generators["cgan"], "neg": generators["translate"]}
    return create_app(models, Settings(max_n=64, max_body_bytes=200_000, max_image_pixels=512 * 512, batch_wait=0.02,
                                       body_timeout=1.0))


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def decode_images(payload) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(s)))) for s in payload["images"]]


# -- endpoints -------------------------------------------------------------------------------------

def test_truncation_reaches_a_style_based_model_through_the_batcher(generators):
    """StyleGAN2's graph takes a per-row truncation: psi 0 gives the mean-w image for every seed, on
    /sample and on the explorer's /latents."""
    app = create_app({"sg": generators["stylegan2"]}, Settings(max_n=16, batch_wait=0.0))
    with TestClient(app) as c:
        sample = lambda **kw: decode_images(c.post("/models/sg/sample", json={"n": 3, "format": "json", **kw}).json())  # noqa: E731
        free, mean = sample(seed=1), sample(seed=1, truncation=0.0)
        assert any((free[0] != other).any() for other in free[1:])  # untruncated: the seeds differ
        assert all((mean[0] == other).all() for other in mean[1:] + sample(seed=2, truncation=0.0))
        items = [{"seed": 3}, {"seed": 4}]
        same = decode_images(c.post("/models/sg/latents", json={"items": items, "truncation": 0.0, "format": "json"}).json())
        assert (same[0] == same[1]).all() and (same[0] == mean[0]).all()


def test_health_and_models(client):
    assert client.get("/health").json()["status"] == "ok"
    models = {m["name"]: m for m in client.get("/models").json()["models"]}
    assert set(models) == {"dc", "cg", "neg"}
    assert models["dc"]["task"] == "noise" and models["dc"]["classes"] == [] and models["dc"]["batched"]
    assert models["cg"]["task"] == "class" and models["cg"]["num_classes"] == 10 and models["cg"]["knobs"] == ["labels"]
    assert models["cg"]["pca"]["components"] == 8 and models["cg"]["latent_dim"] == 100
    assert models["neg"]["task"] == "image" and models["neg"]["endpoints"] == ["translate"]
    assert client.get("/models/cg").json()["recipe"] == "cgan"


def test_sample_png_json_and_same_images_as_the_library(client, generators):
    r = client.post("/models/dc/sample", json={"n": 4, "seed": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size[0] > 8
    r = client.post("/models/cg/sample", json={"n": 5, "seed": 9, "class": 3, "format": "json"})
    body = r.json()
    assert body["labels"] == [3] * 5 and body["shape"] == [1, 8, 8]
    gen = generators["cgan"]
    expected = gen.dataset.from_model(gen.sample(5, seed=9, labels=3))[:, 0].numpy()
    assert np.array_equal(np.stack(decode_images(body)), expected)
    # a class by name
    assert client.post("/models/cg/sample", json={"n": 2, "class": "7", "format": "json"}).json()["labels"] == [7, 7]


def test_latents_interpolate_pca_and_explicit_z(client, generators):
    items = [{"seed": 1}, {"seed": 1, "towards": 2, "t": 1.0}, {"seed": 2}, {"seed": 1, "pca": [2.0, -1.0]},
             {"seed": 1, "jitter": 0.5, "jitter_seed": 4}]
    body = client.post("/models/dc/latents", json={"items": items, "return_latents": True}).json()
    images, z = decode_images(body), torch.tensor(body["latents"])
    assert np.array_equal(images[1], images[2])  # t=1 lands on the other seed
    assert not np.array_equal(images[0], images[3]) and not np.array_equal(images[0], images[4])
    gen = generators["dcgan"]
    assert np.array_equal(images[0], gen.dataset.from_model(gen.sample(1, seed=1))[0, 0].numpy())
    again = client.post("/models/dc/latents", json={"items": [{"z": body["latents"][3]}]}).json()
    assert np.array_equal(decode_images(again)[0], images[3])  # a returned latent reproduces its image
    assert torch.allclose(z[0], torch.randn(1, 100, generator=torch.Generator().manual_seed(1))[0], atol=1e-4)


def test_latents_of_a_uniform_prior_model_follow_its_prior(generators):
    """BEGAN's z is uniform in [-1, 1]: the explorer's z(seed) is the one its sample() draws, moves are kept
    in the cube, and an explicit z outside it is refused with the reason."""
    gen = generators["began"]
    app = create_app({"be": gen}, Settings(max_n=16, batch_wait=0.0))
    with TestClient(app) as c:
        assert "latents" in c.get("/models/be").json()["endpoints"]
        items = [{"seed": 3}, {"seed": 3, "pca": [10.0], "jitter": 2.0, "jitter_seed": 1}]
        body = c.post("/models/be/latents", json={"items": items, "return_latents": True}).json()
        z = torch.tensor(body["latents"])
        assert torch.allclose(z[0], torch.rand(1, z.shape[1], generator=torch.Generator().manual_seed(3))[0] * 2 - 1,
                              atol=1e-4)
        assert z.abs().max() <= 1 and (z[1].abs() == 1).any()  # pushed out of the cube, projected back
        image = decode_images(body)[0]
        assert np.array_equal(image, gen.dataset.from_model(gen.sample(1, seed=3))[0, 0].numpy())
        r = c.post("/models/be/latents", json={"items": [{"z": [1.5] * z.shape[1]}]})
        assert r.status_code == 422 and "[-1, 1]" in r.json()["error"]
        assert c.get("/health").status_code == 200


def test_infogan_codes_are_served_batched(generators):
    gen = generators["infogan"]
    app = create_app({"info": gen}, Settings(max_n=16, batch_wait=0.0))
    with TestClient(app) as c:
        assert c.get("/models/info").json()["batched"] is True
        body = c.post("/models/info/sample", json={"n": 4, "seed": 2, "codes": {"cat": 5}, "format": "json"}).json()
        expected = gen.dataset.from_model(gen.recipe.sample(4, seed=2, codes={"cat": 5}).x)[:, 0].numpy()
        assert np.array_equal(np.stack(decode_images(body)), expected)
        r = c.post("/models/info/sample", json={"n": 2, "codes": {"cat": 99}})
        assert r.status_code == 400 and "category" in r.json()["error"]


def test_latents_with_a_class_per_item(client, generators):
    body = client.post("/models/cg/latents", json={"items": [{"seed": 4, "class": 3}, {"seed": 4, "class": "5"}]}).json()
    assert body["labels"] == [3, 5]
    gen = generators["cgan"]
    assert np.array_equal(decode_images(body)[0], gen.dataset.from_model(gen.sample(1, seed=4, labels=3))[0, 0].numpy())
    r = client.post("/models/dc/latents", json={"items": [{"seed": 4, "class": 3}]})
    assert r.status_code == 400 and "unconditional" in r.json()["error"]


def test_translate_upload(client, generators):
    image = np.zeros((8, 8), np.uint8)
    image[2:6, 3:5] = 255
    r = client.post("/models/neg/translate", files={"image": ("d.png", png(image), "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    r = client.post("/models/neg/translate?format=json", content=png(np.zeros((40, 30, 3), np.uint8)),
                    headers={"content-type": "image/png"})  # raw body, RGB, another size: converted and resized
    assert r.status_code == 200 and r.json()["shape"] == [1, 8, 8]
    gen = generators["translate"]
    x = gen.dataset.to_model(torch.from_numpy(image)[None, None], "image")
    expected = gen.dataset.from_model(gen.translate(x), "image")[0, 0].numpy()
    r = client.post("/models/neg/translate?format=json", files={"image": ("d.png", png(image), "image/png")})
    assert np.array_equal(decode_images(r.json())[0], expected)


def test_concurrent_requests_share_one_forward_pass(app, generators):
    import httpx

    async def burst():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await asyncio.gather(*[c.post("/models/cg/sample", json={"n": 3, "seed": s, "format": "json"})
                                          for s in range(8)])

    registry = app.state.registry
    before = registry.render()
    answers = asyncio.run(burst())
    assert all(r.status_code == 200 for r in answers)
    gen = generators["cgan"]
    for seed, r in enumerate(answers):  # each request still gets exactly its own samples
        expected = gen.dataset.from_model(gen.sample(3, seed=seed))[:, 0].numpy()
        assert np.array_equal(np.stack(decode_images(r.json())), expected)
    after = registry.render()
    count = lambda text: float(next(l for l in text.splitlines() if l.startswith('ganforge_batch_requests_count{model="cg"}')).split()[-1]) \
        if 'ganforge_batch_requests_count{model="cg"}' in text else 0.0  # noqa: E731
    passes = count(after) - count(before)
    assert 1 <= passes < 8  # 8 requests, fewer forward passes


def test_metrics_text(client):
    client.post("/models/dc/sample", json={"n": 2})
    client.post("/models/nope/sample", json={})
    text = client.get("/metrics").text
    assert "# TYPE ganforge_request_duration_seconds histogram" in text
    assert 'ganforge_requests_total{code="200",endpoint="/models/{name}/sample",model="dc"}' in text
    assert 'ganforge_requests_total{code="404",endpoint="/models/{name}/sample",model="unknown"}' in text
    assert 'ganforge_errors_total{code="404"}' in text
    assert "ganforge_batch_samples_bucket" in text and 'ganforge_samples_total{model="dc"}' in text


def test_quality_check_on_request(client, monkeypatch):
    """The monitor's plumbing with a stub reference (the real extractor trains a classifier: slow for a unit test)."""
    from ganforge.deploy import monitor

    class Extractor:
        def extract(self, x):
            return x.flatten(1)[:, :6].double(), None

    class Reference:
        def __init__(self, gen):
            from ganforge.metrics.fid import feature_stats

            feats = torch.randn(200, 6, generator=torch.Generator().manual_seed(0)).double()
            mu, sigma = feature_stats(feats)
            self.extractor, self.reference, self.checks = Extractor(), {"features": feats, "mu": mu, "sigma": sigma}, 0

    monkeypatch.setattr(monitor, "_Reference", Reference)
    r = client.post("/models/dc/quality?samples=50")
    assert r.status_code == 200 and r.json()["fid"] >= 0 and "kid" in r.json()
    assert 'ganforge_quality{metric="fid",model="dc"}' in client.get("/metrics").text
    assert client.post("/models/neg/quality?samples=50").status_code == 409
    client.app.state.models["dc"].__dict__.pop("_reference", None)  # the stub is cached on the model


def test_quality_check_with_the_real_classifier_extractor(client):
    """The real path: a classifier trained on digits (cached), reference statistics of the test split."""
    client.app.state.models["dc"].__dict__.pop("_reference", None)
    first = client.post("/models/dc/quality?samples=100").json()
    second = client.post("/models/dc/quality?samples=100").json()
    assert first["extractor"] == "classifier" and "digits test split" in first["reference"]
    assert first["fid"] > 0 and second["fid"] > 0 and first["seed"] != second["seed"]  # fresh samples each time
    assert second["seconds"] < first["seconds"] or first["seconds"] < 1.0  # the classifier and reference are cached


# -- malformed requests ------------------------------------------------------------------------------

def _big_png() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (5000, 5000)).save(buf, format="PNG")  # 25 Mpixel, a few KB compressed
    return buf.getvalue()


J = "application/json"
BAD = [
    # (method, path, kwargs, status, message fragment)
    ("post", "/models/cg/sample", {"json": {"n": "5"}}, 422, "n: Input should be a valid integer"),
    ("post", "/models/cg/sample", {"json": {"n": 10**6}}, 413, "limit of 64 samples"),
    ("post", "/models/cg/sample", {"json": {"n": 0}}, 422, "n: Input should be greater than or equal to 1"),
    ("post", "/models/cg/sample", {"json": {"n": -3}}, 422, "n: Input should be greater"),
    ("post", "/models/cg/sample", {"json": {"n": 1.5}}, 422, "n: Input should be a valid integer"),
    ("post", "/models/cg/sample", {"json": {"seed": -1}}, 422, "seed"),
    ("post", "/models/cg/sample", {"json": {"seed": 2**70}}, 422, "seed"),
    ("post", "/models/cg/sample", {"json": {"class": 99}}, 400, "class 99 does not exist"),
    ("post", "/models/cg/sample", {"json": {"class": "seven"}}, 400, "unknown class 'seven'"),
    ("post", "/models/dc/sample", {"json": {"class": 3}}, 400, "unconditional"),
    ("post", "/models/cg/sample", {"json": {"bogus": 1}}, 422, "bogus: Extra inputs are not permitted"),
    ("post", "/models/cg/sample", {"json": [1, 2]}, 422, "must be a JSON object"),
    ("post", "/models/cg/sample", {"content": b"{bad", "headers": {"content-type": J}}, 400, "not valid JSON"),
    ("post", "/models/cg/sample", {"content": b"\xff\xfe\x00", "headers": {"content-type": J}}, 400, "not valid JSON"),
    ("post", "/models/cg/sample", {"content": b'{"truncation": NaN}', "headers": {"content-type": J}}, 422, "truncation"),
    ("post", "/models/cg/sample", {"json": {"format": "gif"}}, 422, "format"),
    ("post", "/models/cg/sample", {"json": {"truncation": 0.7}}, 400, "does not take truncation"),
    ("post", "/models/cg/sample", {"json": {"truncation": 5.0}}, 422, "truncation"),
    ("post", "/models/cg/sample", {"json": {"prompt": "a cat"}}, 400, "does not take prompt"),
    ("post", "/models/cg/sample", {"json": {"mix": [1]}}, 422, "mix"),
    ("post", "/models/cg/sample", {"json": {"codes": {"c": "x"}}}, 422, "codes"),
    ("post", "/models/cg/sample", {"json": {"prompt": "x" * 5000}}, 422, "prompt"),
    ("post", "/models/dc/sample", {"json": {"format": "csv"}}, 400, "format csv is for tables"),
    ("post", "/models/nope/sample", {"json": {}}, 404, "no model named 'nope'"),
    ("get", "/nothing/here", {}, 404, "no such endpoint"),
    ("get", "/models/cg/sample", {}, 405, "GET is not allowed"),
    ("post", "/models/neg/sample", {"json": {"n": 2}}, 400, "translates inputs"),
    ("post", "/models/dc/translate", {"files": {"image": ("a.png", b"x", "image/png")}}, 400, "samples from noise"),
    ("post", "/models/neg/translate", {"files": {"other": ("a.png", b"x", "image/png")}}, 400, "no file field named 'image'"),
    ("post", "/models/neg/translate", {"files": {"image": ("a.png", b"not an image", "image/png")}}, 400, "not an image"),
    ("post", "/models/neg/translate", {"files": {"image": ("a.png", b"", "image/png")}}, 400, "empty"),
    ("post", "/models/neg/translate", {"files": {"image": ("a.png", png(np.zeros((64, 64), np.uint8))[:60], "image/png")}},
     400, "corrupt or truncated"),
    ("post", "/models/neg/translate", {"content": _big_png(), "headers": {"content-type": "image/png"}}, 413,
     "5000x5000 pixels"),
    ("post", "/models/neg/translate", {"content": b"hello", "headers": {"content-type": "text/plain"}}, 415,
     "multipart/form-data"),
    ("post", "/models/neg/translate", {"content": b"0" * 300_000, "headers": {"content-type": "image/png"}}, 413,
     "the limit is 200000"),
    ("post", "/models/neg/translate?format=gif", {"content": b"x", "headers": {"content-type": "image/png"}}, 422,
     "format"),
    ("post", "/models/dc/latents", {"json": {"items": []}}, 422, "items"),
    ("post", "/models/dc/latents", {"json": {"items": [{"z": [0.1] * 3}]}}, 422, "z must be 100 finite numbers"),
    ("post", "/models/dc/latents", {"json": {"items": [{"pca": [0.0] * 20}]}}, 400, "this model has 8 directions"),
    ("post", "/models/dc/latents", {"json": {"items": [{"seed": 1}] * 65}}, 413, "limit of 64 samples"),
    ("post", "/models/dc/latents", {"json": {"items": [{"t": 2.0}]}}, 422, "t:"),
    ("post", "/models/neg/latents", {"json": {"items": [{"seed": 1}]}}, 400, "no latent space"),
    ("post", "/models/dc/quality?samples=5", {}, 400, "between 10 and 50000"),
    ("post", "/models/dc/quality?samples=ten", {}, 422, "samples"),
]


@pytest.mark.parametrize("method, path, kwargs, status, fragment", BAD, ids=[f"{i:02d}-{b[1]}" for i, b in enumerate(BAD)])
def test_malformed_request_gets_a_4xx_with_one_line_and_the_server_stays_healthy(client, method, path, kwargs,
                                                                                  status, fragment):
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert fragment in error and "\n" not in error and len(error) < 300
    assert client.get("/health").json()["status"] == "ok"
    assert client.post("/models/dc/sample", json={"n": 1}).status_code == 200


def test_catalogue_size():
    assert len(BAD) >= 25


def test_api_key(generators):
    app = create_app({"dc": generators["dcgan"]}, Settings(api_key=KEY))
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200 and c.get("/").status_code == 200  # public
        r = c.post("/models/dc/sample", json={"n": 1})
        assert r.status_code == 401 and "needs an API key" in r.json()["error"]
        assert c.get("/models", headers={"X-API-Key": "wrong"}).json()["error"] == "the API key is wrong."
        assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.get("/models", headers={"X-API-Key": KEY}).status_code == 200
        assert c.post("/models/dc/sample", json={"n": 1}, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        # an unauthenticated upload is refused before its body is read
        r = c.post("/models/dc/translate", content=b"0" * 1000, headers={"content-type": "image/png"})
        assert r.status_code == 401


def test_slow_body_and_huge_declared_length_over_a_real_socket(app):
    """Slowloris-style: a body that trickles in gets 408 after --body-timeout; the server keeps serving."""
    with LiveServer(app) as live:
        def raw(request: bytes, pause_after: bytes = b"") -> bytes:
            with socket.create_connection(("127.0.0.1", live.port), timeout=10) as s:
                s.sendall(request)
                if pause_after:
                    time.sleep(1.6)  # longer than body_timeout=1.0
                    try:
                        s.sendall(pause_after)
                    except OSError:
                        pass
                return s.recv(4096)

        slow = raw(b"POST /models/dc/sample HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 50\r\n\r\n{\"n\": ", pause_after=b"1}")
        assert slow.startswith(b"HTTP/1.1 408") and b"did not arrive within 1 s" in slow
        huge = raw(b"POST /models/neg/translate HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                   b"Content-Length: 99999999999\r\n\r\n")
        assert huge.startswith(b"HTTP/1.1 413")
        bad_length = raw(b"POST /models/dc/sample HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert bad_length.startswith(b"HTTP/1.1 400")
        import urllib.request

        with urllib.request.urlopen(live.url + "/health", timeout=10) as r:
            assert json.loads(r.read())["status"] == "ok"


@pytest.mark.parametrize("argv, message", [
    (["RUN", "--port", "70000"], "--port 70000 is out of range"),
    (["RUN", "--max-n", "0"], "--max-n 0 is out of range"),
    (["RUN", "--api-key", "short"], "shorter than 8 characters"),
    (["RUN", "--host", "256.1.1.1"], "cannot listen on 256.1.1.1"),
    (["bad name!=RUN"], "model name 'bad name!'"),
    (["a=RUN", "a=RUN"], "two models are named 'a'"),
    (["MISSING"], "does not exist"),
])
def test_serve_cli_errors_exit_2(runs, tmp_path, capsys, argv, message):
    argv = [a.replace("RUN", str(runs["dcgan"])).replace("MISSING", str(tmp_path / "missing")) for a in argv]
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_non_loopback_without_a_key_warns(runs, capsys, monkeypatch):
    import ganforge.deploy.server as server

    monkeypatch.setattr(server, "create_app", lambda *a, **k: (_ for _ in ()).throw(SystemExit(0)))
    with pytest.raises(SystemExit):
        main(["serve", str(runs["dcgan"]), "--host", "0.0.0.0", "--port", "0"])
    assert "without an API key" in capsys.readouterr().err
