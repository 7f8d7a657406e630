"""Who may use the server and how much they may send: ``Guard``, the ASGI middleware that runs before
any route, and ``is_loopback`` (serving beyond this machine without an API key is warned about).

The guard checks the API key (``hmac.compare_digest``; ``PUBLIC_PATHS`` need none), reads the body
with a size cap and a deadline (a big ``Content-Length`` or a body growing past ``max_body_bytes`` gets
413, a slow one 408) and hands it to the app through ``_replay``; its refusals are one-line JSON
``{"error": ...}`` like the routes'. It also counts every request for ``/metrics``.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import time

from ganforge.deploy.api import Settings
from ganforge.deploy.metrics import Registry

PUBLIC_PATHS = ("/", "/health", "/explorer/app.js", "/explorer/style.css", "/favicon.ico")


class Guard:
    """ASGI middleware: API key, body size cap and deadline, request metrics. Runs before any route."""

    def __init__(self, app, settings: Settings, registry: Registry, models=()):
        self.app, self.settings, self.registry, self.models = app, settings, registry, set(models)
        self.key = settings.api_key.encode() if settings.api_key else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = {"code": 500}

        async def send_tracked(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            problem = self._authorise(scope)
            if problem is None:
                body, problem = await self._read_body(scope, receive, status)
            if problem is not None:
                code, message, headers = problem
                await _send_json(send_tracked, code, {"error": message}, headers)
            elif body is not None:
                await self.app(scope, _replay(body, receive), send_tracked)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or ("unmatched" if status["code"] == 404 else "other")
            model = (scope.get("path_params") or {}).get("name", "")
            if model and model not in self.models:
                model = "unknown"  # bounded label values: names a client makes up are not series
            elapsed = time.perf_counter() - start
            code = status["code"]
            self.registry.inc("ganforge_requests_total", "HTTP requests", endpoint=endpoint, code=str(code), model=model)
            self.registry.observe("ganforge_request_duration_seconds", "request latency", elapsed, endpoint=endpoint)
            if code >= 400:
                self.registry.inc("ganforge_errors_total", "HTTP error answers", code=str(code))

    def _authorise(self, scope):
        if self.key is None or scope["path"] in PUBLIC_PATHS:
            return None
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-api-key")
        auth = headers.get(b"authorization", b"")
        if given is None and auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        if not given:
            return 401, "this server needs an API key: send it as 'X-API-Key: KEY' or 'Authorization: Bearer KEY'.", \
                {"WWW-Authenticate": "Bearer"}
        if not hmac.compare_digest(given, self.key):
            return 401, "the API key is wrong.", {"WWW-Authenticate": "Bearer"}
        return None

    async def _read_body(self, scope, receive, status):
        limit = self.settings.max_body_bytes
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return None, (400, "the Content-Length header is not a number.", None)
            if declared > limit:
                return None, (413, f"the request body is {declared} bytes; the limit is {limit} (--max-upload-mb).", None)
        body = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout
        more = True
        while more:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                message = await asyncio.wait_for(receive(), remaining)
            except asyncio.TimeoutError:
                return None, (408, f"the request body did not arrive within {self.settings.body_timeout:g} s.",
                              {"Connection": "close"})
            if message["type"] == "http.disconnect":
                status["code"] = 499  # client gone: nothing to answer (nginx's code, for the metrics)
                return None, None
            body += message.get("body", b"")
            if len(body) > limit:
                return None, (413, f"the request body is over the limit of {limit} bytes (--max-upload-mb).",
                              {"Connection": "close"})
            more = message.get("more_body", False)
        return bytes(body), None


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(send, status: int, payload: dict, headers: dict | None = None):
    data = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
