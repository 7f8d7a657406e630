"""Micro-batching: the requests of one model that arrive together share one forward pass.

Each served model (``ganforge.deploy.served``) whose sampling is one network call has a
``MicroBatcher``: an asyncio queue whose consumer takes the first request, gathers those that arrive
within ``batch_wait`` (up to ``max_batch`` samples), concatenates their inputs and runs ONE forward pass
on the inference thread (a single worker thread: the event loop never runs torch); results are split
back per request. Each request's inputs were drawn from its own seed, so its samples do not depend on
who shared the batch. A full queue is a 503 with ``Retry-After``; a request not served within
``timeout`` is a 503 too (and is dropped if it has not run yet).
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import torch

from ganforge.deploy.api import RequestError, Settings
from ganforge.deploy.metrics import BATCH_BUCKETS, Registry


class _Job:
    __slots__ = ("inputs", "n", "future", "enqueued")

    def __init__(self, inputs: dict[str, torch.Tensor], n: int, future: asyncio.Future):
        self.inputs, self.n, self.future, self.enqueued = inputs, n, future, time.perf_counter()


class MicroBatcher:
    """Collect the requests of one model that arrive within ``batch_wait`` and run them as one forward pass."""

    def __init__(self, model, registry: Registry, executor: ThreadPoolExecutor, settings: Settings):
        # model: the ServedModel this batches for (its .name labels the metrics, its .graph runs the batch)
        self.model, self.registry, self.executor, self.settings = model, registry, executor, settings
        self.queue: asyncio.Queue | None = None
        self.loop = None
        self.task = None
        self.waiting = 0  # samples queued

    def _ensure_started(self):
        loop = asyncio.get_running_loop()
        if self.loop is not loop or self.task is None or self.task.done():
            self.loop, self.queue, self.waiting = loop, asyncio.Queue(), 0
            self.task = loop.create_task(self._consume())

    async def submit(self, inputs: dict[str, torch.Tensor], n: int) -> torch.Tensor:
        self._ensure_started()
        if self.waiting + n > self.settings.max_queue:
            raise RequestError(503, f"server busy: {self.waiting} samples queued; retry shortly.", {"Retry-After": "1"})
        job = _Job(inputs, n, self.loop.create_future())
        self.waiting += n
        await self.queue.put(job)
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), self.settings.timeout)
        except asyncio.TimeoutError:
            job.future.cancel()  # not computed if still queued
            raise RequestError(503, f"sampling did not finish within {self.settings.timeout:g} s; retry with a smaller n.") from None

    async def _consume(self):
        while True:
            first = await self.queue.get()
            jobs, total = [first], first.n
            if self.settings.batching:
                deadline = self.loop.time() + self.settings.batch_wait
                while total < self.settings.max_batch:
                    try:
                        job = self.queue.get_nowait()
                    except asyncio.QueueEmpty:
                        remaining = deadline - self.loop.time()
                        if remaining <= 0:
                            break
                        try:
                            job = await asyncio.wait_for(self.queue.get(), remaining)
                        except asyncio.TimeoutError:
                            break
                    if total + job.n > self.settings.max_batch:
                        await self._run([job])  # too big to join this batch: its own pass, first
                        continue
                    jobs.append(job)
                    total += job.n
            try:
                await self._run(jobs)
            except Exception:  # noqa: BLE001 - _run sets each job's exception; keep consuming
                pass

    async def _run(self, jobs: list[_Job]) -> None:
        total = sum(j.n for j in jobs)
        self.waiting -= total
        live = [j for j in jobs if not j.future.done()]
        if not live:
            return
        names = list(live[0].inputs)
        batch = {k: torch.cat([j.inputs[k] for j in live]) for k in names}
        self.registry.observe("ganforge_batch_samples", "samples per forward pass", sum(j.n for j in live),
                              BATCH_BUCKETS, model=self.model.name)
        self.registry.observe("ganforge_batch_requests", "requests per forward pass", len(live), BATCH_BUCKETS,
                              model=self.model.name)
        try:
            out = await self.loop.run_in_executor(self.executor, self.model.graph.run, batch)
        except Exception as e:  # noqa: BLE001
            for j in live:
                if not j.future.done():
                    j.future.set_exception(e)
            return
        start = 0
        for j in live:
            if not j.future.done():
                j.future.set_result(out[start:start + j.n])
            start += j.n
