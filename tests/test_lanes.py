"""The reports' threads (:class:`activity_report.server.limits.Lanes`), without a server."""

from __future__ import annotations

import threading

import pytest

from activity_report.server.limits import SMALL_REPORT, Lanes, ServerBusy

SMALL, BIG = 10, SMALL_REPORT + 1


def test_small_reports_alone_keep_every_thread_busy() -> None:
    lanes = Lanes(2, 8)
    together = threading.Barrier(3, timeout=10)  # broken unless 3 run at once
    try:
        futures = [lanes.submit(SMALL, together.wait) for _ in range(3)]
        assert sorted(future.result(timeout=20) for future in futures) == [0, 1, 2]
    finally:
        lanes.shutdown()


def test_a_small_report_runs_beside_big_ones_and_big_ones_past_the_queue_are_refused() -> None:
    lanes = Lanes(1, 1)
    release = threading.Event()
    try:
        running = lanes.submit(BIG, release.wait, 20)
        waiting = lanes.submit(None, release.wait, 20)  # unknown cost: a big one
        with pytest.raises(ServerBusy):
            lanes.submit(BIG, release.wait, 20)
        assert lanes.submit(SMALL, lambda: "small").result(timeout=10) == "small"
        assert not running.done() and not waiting.done()
        release.set()
        assert running.result(timeout=10) and waiting.result(timeout=10)
        assert lanes.admitted == 0
        assert lanes.submit(BIG, lambda: "again").result(timeout=10) == "again"
    finally:
        release.set()
        lanes.shutdown()


def test_small_reports_past_every_queue_are_refused_and_shutdown_drops_the_waiting() -> None:
    lanes = Lanes(1, 1)
    release = threading.Event()
    started = threading.Semaphore(0)

    def job() -> bool:
        started.release()
        return release.wait(20)

    try:
        admitted = [lanes.submit(SMALL, job) for _ in range(1 + 1 + 2 * 1)]
        with pytest.raises(ServerBusy):
            lanes.submit(SMALL, job)
        assert started.acquire(timeout=10) and started.acquire(timeout=10)  # 2 threads
        lanes.shutdown()
        assert [future.cancelled() for future in admitted] == [False, False, True, True]
        release.set()
        assert [future.result(timeout=10) for future in admitted[:2]] == [True, True]
        assert lanes.admitted == 0
    finally:
        release.set()
        lanes.shutdown()
