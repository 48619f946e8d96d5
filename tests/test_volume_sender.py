"""The distributed executor's sender (executors/volumes/volume_sender.py) against a fake gloo whose
sends complete when the test says: due order, accounting, errors raised at flush, threads."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from splitgym.executors.volumes.volume_sender import Sender


class _Work:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.done = threading.Event()
        self.fail = fail

    def wait(self) -> bool:
        assert self.done.wait(timeout=10), "the test never completed this send"
        if self.fail is not None:
            raise self.fail
        return True


class _Dist:
    """``isend`` records (tag, dst, time) and returns a work that completes at once, or when the
    test sets it (``hold``), or fails (``fail_wait``); ``fail_isend`` makes ``isend`` raise."""

    def __init__(self, hold: bool = False, fail_isend: BaseException | None = None, fail_wait=None) -> None:
        self.issued: list[tuple[int, int, float]] = []
        self.works: list[_Work] = []
        self.hold, self.fail_isend, self.fail_wait = hold, fail_isend, fail_wait

    def isend(self, tensor: torch.Tensor, dst: int, tag: int) -> _Work:
        if self.fail_isend is not None:
            raise self.fail_isend
        self.issued.append((tag, dst, time.perf_counter()))
        work = _Work(self.fail_wait)
        if not self.hold:
            work.done.set()
        self.works.append(work)
        return work


def test_messages_leave_in_due_order_after_their_link_time() -> None:
    dist = _Dist()
    sender = Sender(dist)
    t0 = time.perf_counter()
    sender.put(torch.zeros(1), dst=1, tag=0, link_s=0.15)
    sender.put(torch.zeros(1), dst=1, tag=1, link_s=0.0)
    sender.put(torch.zeros(1), dst=2, tag=2, link_s=0.05)
    out = sender.flush()
    sender.close()
    assert [tag for tag, _, _ in dist.issued] == [1, 2, 0]
    at = {tag: t - t0 for tag, _, t in dist.issued}
    assert at[0] >= 0.15 and at[2] >= 0.05
    assert out.messages == 3 and out.link_s == pytest.approx(0.2)
    assert out.lag_s >= 0.0 and out.issue_s >= 0.0


def test_flush_waits_for_completion_and_counts_send_seconds() -> None:
    dist = _Dist(hold=True)
    sender = Sender(dist)
    sender.put(torch.zeros(1), dst=1, tag=0, link_s=0.0)
    sender.put(torch.zeros(1), dst=2, tag=1, link_s=0.0)
    while len(dist.works) < 2:
        time.sleep(0.001)
    threading.Timer(0.1, lambda: [w.done.set() for w in dist.works]).start()
    t = time.perf_counter()
    out = sender.flush()
    assert time.perf_counter() - t >= 0.09  # it did wait for the receivers
    assert out.send_s >= 2 * 0.09  # each send took ~0.1 s from isend to completion
    again = sender.flush()  # reset: nothing pending, nothing counted
    assert again.messages == 0 and again.send_s == 0.0 and again.link_s == 0.0
    sender.close()


@pytest.mark.parametrize("where", ["isend", "wait"])
def test_an_error_in_a_sender_thread_is_raised_by_flush(where: str) -> None:
    boom = RuntimeError(f"peer gone ({where})")
    dist = _Dist(fail_isend=boom) if where == "isend" else _Dist(fail_wait=boom)
    sender = Sender(dist)
    sender.put(torch.zeros(1), dst=1, tag=0, link_s=0.0)
    with pytest.raises(RuntimeError, match=f"peer gone \\({where}\\)"):
        sender.flush()
    sender.close()


def test_no_thread_per_message() -> None:
    """Many messages to two destinations: one dispatch thread and one completion thread per
    destination, all gone after close."""
    before = set(threading.enumerate())
    dist = _Dist()
    sender = Sender(dist)
    for i in range(200):
        sender.put(torch.zeros(1), dst=1 + i % 2, tag=i, link_s=0.0)
    out = sender.flush()
    ours = [t for t in threading.enumerate() if t not in before]
    assert out.messages == 200 and len(dist.issued) == 200
    assert sorted(t.name for t in ours) == ["sender-dispatch", "sender-done-1", "sender-done-2"]
    sender.close()
    assert not any(t.is_alive() for t in ours)
