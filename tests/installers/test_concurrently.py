"""Node steps run side by side: a failure on one node lets the others finish what they started
(a `snap install` cut off half way goes on inside snapd, and the next preflight misread it as
'ports taken by another program'); cancelling the whole cancels them all."""

import asyncio

import pytest

from thinkube_tui.installers.base import concurrently


async def test_a_failure_waits_for_the_others_then_is_raised():
    finished = []
    release = asyncio.Event()

    async def fails() -> None:
        raise RuntimeError("tk-worker-1: snap install failed")

    async def slow() -> None:
        await release.wait()
        finished.append("tk-gpu-1")

    task = asyncio.ensure_future(concurrently(fails(), slow()))
    for _ in range(20):  # loop turns, not time: the failure has long been seen
        await asyncio.sleep(0)
    assert not task.done()  # the failure waits for the node still at work
    release.set()
    with pytest.raises(RuntimeError, match="tk-worker-1"):
        await task
    assert finished == ["tk-gpu-1"]


async def test_cancelling_the_whole_cancels_every_node():
    started = asyncio.Event()
    cancelled = []

    async def node(name: str) -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    task = asyncio.ensure_future(concurrently(node("a"), node("b")))
    await started.wait()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(cancelled) == ["a", "b"]
