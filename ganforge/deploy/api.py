"""The server's contract, shared by every layer of it: ``Settings`` (the options of ``ganforge serve``:
limits, batching, monitoring, watermark), ``RequestError`` (the one way any layer refuses a request: a
4xx with a one-line reason) and the strict JSON request bodies.

In a module of their own because the guard, the batcher, the codecs and the routes all use them and
``server.py`` imports those: here, below all of them, nothing imports in a circle.
"""
# no `from __future__ import annotations`: pydantic resolves the request bodies' annotations (local classes)

from dataclasses import dataclass
from typing import Literal, Optional, Union

MAX_SEED = 2**63 - 1


@dataclass
class Settings:
    api_key: str | None = None
    max_n: int = 256                   # samples per request
    max_body_bytes: int = 10 << 20     # request body (JSON or upload)
    max_image_pixels: int = 4096 * 4096  # uploaded image, before decoding
    max_batch: int = 256               # samples per forward pass
    batch_wait: float = 0.005          # seconds the batcher waits for more requests
    batching: bool = True              # False: one request per forward pass (for comparison)
    timeout: float = 30.0              # seconds a request may wait for its samples
    body_timeout: float = 10.0         # seconds to receive a whole request body
    max_queue: int = 8192              # samples waiting; beyond: 503 + Retry-After
    pca_components: int = 8
    pca_samples: int = 512
    monitor_every: float = 0.0         # seconds between scheduled quality checks (0: on request only)
    monitor_samples: int = 500
    watermark: str | None = None       # key of the invisible watermark put in every served image (docs/PROVENANCE.md)


class RequestError(Exception):
    """A 4xx answer with a one-line reason."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message.splitlines()[0] if message else "bad request", headers


def request_bodies():
    """The JSON bodies of ``/sample`` and ``/latents``: unknown fields, wrong types and out-of-range
    numbers are a 422 naming the field. Built on call: pydantic comes with the ``serve`` extra."""
    from pydantic import BaseModel, ConfigDict, Field

    class Body(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    class SampleRequest(Body):
        n: int = Field(16, ge=1, description="number of samples")
        seed: int = Field(0, ge=0, le=MAX_SEED)
        class_: Optional[Union[int, str]] = Field(None, alias="class")
        truncation: Optional[float] = Field(None, ge=0.0, le=2.0)
        mix: Optional[list[int]] = Field(None, min_length=2, max_length=2)
        codes: Optional[dict[str, float]] = Field(None, max_length=64)
        prompt: Optional[str] = Field(None, min_length=1, max_length=1000)
        domain: Optional[str] = Field(None, min_length=1, max_length=100)
        format: Literal["png", "json", "csv"] = "png"
        nrow: Optional[int] = Field(None, ge=1, le=1024)

    class LatentItem(Body):
        z: Optional[list[float]] = Field(None, min_length=1, max_length=65536)
        seed: int = Field(0, ge=0, le=MAX_SEED)
        towards: Optional[int] = Field(None, ge=0, le=MAX_SEED)
        t: float = Field(0.0, ge=0.0, le=1.0)
        pca: list[float] = Field(default_factory=list, max_length=64)
        jitter: float = Field(0.0, ge=0.0, le=10.0)
        jitter_seed: int = Field(0, ge=0, le=MAX_SEED)
        class_: Optional[Union[int, str]] = Field(None, alias="class")  # this item's class (else the request's)

    class LatentsRequest(Body):
        items: list[LatentItem] = Field(..., min_length=1)
        class_: Optional[Union[int, str]] = Field(None, alias="class")
        truncation: Optional[float] = Field(None, ge=0.0, le=2.0)
        format: Literal["png", "json"] = "json"
        return_latents: bool = False

    return SampleRequest, LatentsRequest
