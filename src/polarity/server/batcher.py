"""Dynamic batching: the items of requests that arrive together go to the model in one call.

A request hands its items (already encoded texts) to :meth:`Batcher.submit` and awaits its own
results. One background task per model takes the waiting requests in arrival order, as many as fit
in ``max_batch`` items, waits at most ``window`` seconds after the oldest one arrived for others to
join, and runs ``run`` once on all their items in ``executor`` (a single thread: one model call at
a time). While a call runs, new requests queue up and form the next batch, so batches grow with
concurrency and a lone request waits no more than ``window``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger("polarity.server")

In = TypeVar("In")  # an input item
Out = TypeVar("Out")  # an output item


@dataclass
class _Waiting:
    items: list
    future: asyncio.Future
    arrived: float


@dataclass
class BatchStats:
    """Counts since start: model calls, requests and items served, the largest batch."""

    calls: int = 0
    requests: int = 0
    items: int = 0
    largest: int = 0

    def record(self, requests: int, items: int) -> None:
        self.calls += 1
        self.requests += requests
        self.items += items
        self.largest = max(self.largest, items)


class Batcher(Generic[In, Out]):
    """Gathers concurrent requests' items into batches: one ``run(items) -> outputs`` call per batch.

    ``run`` must return one output per item, in order (a list, or an array sliced by rows).
    """

    def __init__(self, run: Callable[[list[In]], Sequence[Out]], executor: Executor, *,
                 max_batch: int = 256, window: float = 0.005) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.run, self.executor = run, executor
        self.max_batch, self.window = max_batch, window
        self.stats = BatchStats()
        self._waiting: deque[_Waiting] = deque()
        self._queued = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    async def submit(self, items: list[In]) -> Sequence[Out]:
        """The outputs for ``items`` (at most ``max_batch`` of them), computed in a shared batch."""
        if not items:
            return []
        if len(items) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} items per request, got {len(items)}")
        loop = asyncio.get_running_loop()
        self._start(loop)
        waiting = _Waiting(list(items), loop.create_future(), loop.time())
        self._waiting.append(waiting)
        self._queued += len(items)
        self._wakeup.set()
        return await waiting.future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._serve(), name="polarity-batcher")

    async def stop(self) -> None:
        """Cancel the background task; requests still waiting get an error."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.future.done():
                waiting.future.set_exception(RuntimeError("the server is shutting down"))
        self._queued = 0

    async def _serve(self) -> None:
        while True:
            await self._gather()
            batch = self._take()
            if batch:
                await self._run(batch)

    async def _gather(self) -> None:
        """Wait for a first request, then until the batch is full or the oldest waited ``window``."""
        loop = asyncio.get_running_loop()
        while not self._waiting:
            self._wakeup.clear()
            await self._wakeup.wait()
        deadline = self._waiting[0].arrived + self.window
        while self._queued < self.max_batch and (left := deadline - loop.time()) > 0:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), left)
            except TimeoutError:
                break

    def _take(self) -> list[_Waiting]:
        """The oldest waiting requests whose items fit in one batch (requests gone are dropped)."""
        batch: list[_Waiting] = []
        size = 0
        while self._waiting:
            waiting = self._waiting[0]
            if waiting.future.done():  # the client went away
                self._waiting.popleft()
                self._queued -= len(waiting.items)
                continue
            if batch and size + len(waiting.items) > self.max_batch:
                break
            self._waiting.popleft()
            self._queued -= len(waiting.items)
            batch.append(waiting)
            size += len(waiting.items)
        return batch

    async def _run(self, batch: list[_Waiting]) -> None:
        items: list[Any] = [item for waiting in batch for item in waiting.items]
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            outputs = await loop.run_in_executor(self.executor, self.run, items)
        except asyncio.CancelledError:
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(RuntimeError("the server is shutting down"))
            raise
        except Exception as exc:  # every request of the batch gets the error
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
            return
        self.stats.record(len(batch), len(items))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("batch of %d items from %d requests: %.1f ms in the model, waited %.1f ms",
                      len(items), len(batch), 1000 * (loop.time() - started), 1000 * (started - batch[0].arrived))
        start = 0
        for waiting in batch:
            end = start + len(waiting.items)
            if not waiting.future.done():
                waiting.future.set_result(outputs[start:end])
            start = end
