"""The distributed executor's sender: messages leave once their link time has passed, without a
thread per message.

Why a sender at all: with emulated links (and the plan's latency over netns) every message must
wait its link time before ``isend``, while the rank computes its next part and other messages wait
theirs, so the waiting happens off the main thread. Why this shape: the previous sender started a
waiter thread per message to learn when gloo completed each ``isend`` (gloo's send works have no
future to attach a callback to); thread start-up took ~100 us per message on a free CPU and
milliseconds under load (``experiments/bench_hosts.py``). Here one dispatch thread issues the
messages in due order (a heap: a message put later with a shorter link time may go first) and one
completion thread per destination, started once, waits on that destination's works in issue order:
gloo delivers the messages of one pair in order and the receivers here post their receives in
stage order, so waiting in issue order per destination records each completion when it happens.

Accounting (read and reset by :meth:`Sender.flush`): ``link_s``, the link seconds waited;
``send_s``, seconds from each ``isend`` to its completion, summed; ``issue_s``, seconds spent
inside ``isend`` calls; ``lag_s``, how late messages were issued after their due time, summed (the
dispatch thread's own delay: scheduling, the GIL). An error in either thread is kept and re-raised
by :meth:`Sender.flush` in the caller's thread.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Sender", "Flushed"]


@dataclass
class Flushed:
    """What the messages since the previous flush cost (seconds, summed over messages)."""

    link_s: float = 0.0
    send_s: float = 0.0
    issue_s: float = 0.0
    lag_s: float = 0.0
    messages: int = 0


class Sender:
    """Sends tensors point to point from background threads, each once its link time has passed
    since :meth:`put` (see the module doc); :meth:`flush` waits for all and re-raises any error."""

    def __init__(self, dist: Any) -> None:
        self.dist = dist
        self.heap: list[tuple[float, int, torch.Tensor, int, int]] = []
        self.cv = threading.Condition()
        self.order = itertools.count()
        self.done: dict[int, queue.SimpleQueue] = {}  # destination -> (work, issued) in issue order
        self.waiters: list[threading.Thread] = []
        self.stats = Flushed()
        self.pending = 0  # put and not yet completed
        self.error: BaseException | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._dispatch, daemon=True, name="sender-dispatch")
        self.thread.start()

    def put(self, tensor: torch.Tensor, dst: int, tag: int, link_s: float) -> None:
        """Queue ``tensor`` for ``dst`` under ``tag``, to leave ``link_s`` seconds from now."""
        due = time.perf_counter() + link_s
        with self.cv:
            self.pending += 1
            self.stats.link_s += link_s
            self.stats.messages += 1
            heapq.heappush(self.heap, (due, next(self.order), tensor, dst, tag))
            self.cv.notify_all()

    def _fail(self, exc: BaseException) -> None:
        with self.cv:
            self.error = self.error or exc
            self.cv.notify_all()

    def _next(self) -> tuple[float, torch.Tensor, int, int] | None:
        """The next message once it is due (None once closed and empty)."""
        with self.cv:
            while True:
                if self.error is not None or (self.closed and not self.heap):
                    return None
                if not self.heap:
                    self.cv.wait()
                    continue
                delay = self.heap[0][0] - time.perf_counter()
                if delay <= 0:
                    due, _, tensor, dst, tag = heapq.heappop(self.heap)
                    return due, tensor, dst, tag
                self.cv.wait(timeout=delay)

    def _dispatch(self) -> None:
        while (item := self._next()) is not None:
            due, tensor, dst, tag = item
            try:
                issued = time.perf_counter()
                work = self.dist.isend(tensor, dst=dst, tag=tag)
                took = time.perf_counter() - issued
            except BaseException as exc:  # re-raised by flush in the caller's thread
                self._fail(exc)
                return
            with self.cv:
                self.stats.issue_s += took
                self.stats.lag_s += max(0.0, issued - due)
            self._completion(dst).put((work, issued, tensor))

    def _completion(self, dst: int) -> queue.SimpleQueue:
        """``dst``'s completion queue, its thread started on the first message to it."""
        if dst not in self.done:
            q: queue.SimpleQueue = queue.SimpleQueue()
            t = threading.Thread(target=self._complete, args=(q,), daemon=True, name=f"sender-done-{dst}")
            self.done[dst] = q
            self.waiters.append(t)
            t.start()
        return self.done[dst]

    def _complete(self, q: queue.SimpleQueue) -> None:
        while (item := q.get()) is not None:
            work, issued, _tensor = item  # the tensor stays referenced until gloo is done with it
            try:
                work.wait()
            except BaseException as exc:  # re-raised by flush in the caller's thread
                self._fail(exc)
                return
            now = time.perf_counter()
            with self.cv:
                self.stats.send_s += now - issued
                self.pending -= 1
                if self.pending == 0:
                    self.cv.notify_all()

    def flush(self) -> Flushed:
        """Wait until every message put so far has completed; return and reset their costs.
        Raises the first error of the background threads."""
        with self.cv:
            while self.pending and self.error is None:
                self.cv.wait()
            if self.error is not None:
                raise self.error
            out, self.stats = self.stats, Flushed()
        return out

    def close(self) -> None:
        """Stop the threads (after a flush: nothing is pending)."""
        with self.cv:
            self.closed = True
            self.cv.notify_all()
        self.thread.join(timeout=5)
        for q in self.done.values():
            q.put(None)
        for t in self.waiters:
            t.join(timeout=5)
