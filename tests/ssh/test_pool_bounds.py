"""SshPool's handshake bound: per SSH server (OpenSSH's MaxStartups counts per server), so nodes
on other servers are not held back by a busy one."""

from __future__ import annotations

import asyncio

from thinkube_tui.ssh import KeyAuth, NodeTarget, SshPool, SshSettings


def target(name: str, port: int) -> NodeTarget:
    return NodeTarget(name=name, host="192.0.2.1", user="u", port=port, auth=KeyAuth("/nonexistent"))


async def test_handshakes_are_bounded_per_ssh_server() -> None:
    pool = SshPool(SshSettings(max_handshakes=2))
    same = [pool.connection(target(f"a{i}", 22))._handshakes for i in range(3)]
    other = pool.connection(target("b", 2222))._handshakes
    await same[0].__aenter__()
    await same[1].__aenter__()
    third = asyncio.ensure_future(same[2].__aenter__())
    await asyncio.sleep(0)  # one turn of the loop: a free slot would be taken by now
    assert not third.done()  # the server's two slots are taken
    await asyncio.wait_for(other.__aenter__(), 1)  # another server's node goes ahead
    await same[0].__aexit__(None, None, None)
    await asyncio.wait_for(third, 1)  # and the waiting one gets the freed slot
    for slot in (same[1], same[2], other):
        await slot.__aexit__(None, None, None)
