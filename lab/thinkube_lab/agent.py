"""The control node's MicroK8s cluster agent (port 25000) as the lab simulates it: what it serialises.

From canonical/microk8s-cluster-agent (pkg/api/v2/join.go, pkg/snap/snap.go; the agent MicroK8s
1.33 ships): the agent is a Go HTTP server, so join requests are served side by side, and only
these sections of `POST /cluster/api/v2.0/join` hold a mutex:

- the cluster-token check (`clusterTokensMu`): a token added without a TTL (add-node's default,
  `--token-ttl -1`) is removed from cluster-tokens.txt by the first join request that shows it,
  before any other check, so a join that then fails has used it up; a token with a TTL is not
  removed and stays valid until it expires;
- the dqlite section (`dqliteMu`): reads dqlite's member list; the first join of a cluster whose
  dqlite still listens on 127.0.0.1 moves it to the address the joiner reached, restarts
  k8s-dqlite and waits for it (polling once a second);
- the Calico section (`calicoMu`): the first join switches Calico's IP autodetection from
  first-found to can-reach=<joiner> and applies the manifest; later joins find nothing to change;
- the certificate-request tokens (`certTokensMu`): `<token>-kubelet` and `<token>-proxy`, which
  the worker then spends on two `sign-cert` requests (single use).

Everything else -- on the agent and, above all, on the joining node (CSRs, kubeconfigs, service
restarts: `join` in nodestate.DURATIONS) -- runs side by side. The lab holds one lock per
section for its simulated duration, so joins in parallel cost what they would on MicroK8s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

# Simulated seconds (times the lab's speed), as on a small control node:
SECTION_S = 0.01  # each join, under each mutex: a small file read, perhaps rewritten
DQLITE_REBIND_S = 3.0  # the first join: k8s-dqlite restarted on the new address, waited for
CALICO_APPLY_S = 1.0  # the first join: the patched Calico manifest applied (kubectl apply)


class ClusterAgent:
    def __init__(self, tokens: dict[str, float | None], speed: float) -> None:
        # The lab's cluster-tokens.txt: token_key(token) -> expiry (None: single use). Kept as
        # digests: the lab's state file is no place for a token in the clear.
        self.tokens = tokens
        self.speed = speed
        self.dqlite_rebound = False  # dqlite moved off 127.0.0.1 (persisted by the lab)
        self.calico_patched = False
        # How often a join did the one-off work (1 each on a cluster: the joins after it find
        # it done, as they read the state under the section's mutex)
        self.dqlite_rebinds = 0
        self.calico_applies = 0
        self._tokens_mu = asyncio.Lock()
        self._dqlite_mu = asyncio.Lock()
        self._calico_mu = asyncio.Lock()
        self._cert_tokens_mu = asyncio.Lock()
        self.in_flight = 0  # joins between their request and their end on the worker
        self.peak_in_flight = 0
        self.joining: set[str] = set()  # the nodes those joins are on
        self.trace: deque[tuple[str, str, str]] = deque(maxlen=10_000)  # (section, enter|leave, node)

    def lock(self, section: str) -> asyncio.Lock:
        """The mutex of a section ("tokens", "dqlite", "calico", "cert-tokens"): a test holding
        it stands for a join that takes long there (the first join's dqlite restart)."""
        return {
            "tokens": self._tokens_mu,
            "dqlite": self._dqlite_mu,
            "calico": self._calico_mu,
            "cert-tokens": self._cert_tokens_mu,
        }[section]

    def state(self) -> dict[str, Any]:
        return {"dqlite_rebound": self.dqlite_rebound, "calico_patched": self.calico_patched}

    def load(self, data: dict[str, Any]) -> None:
        self.dqlite_rebound = bool(data.get("dqlite_rebound"))
        self.calico_patched = bool(data.get("calico_patched"))

    @contextlib.asynccontextmanager
    async def join_in_flight(self, node: str) -> AsyncIterator[None]:
        """Counts a join from its request to its end on the worker (the lab's parallelism figure)."""
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.joining.add(node)
        try:
            yield
        finally:
            self.in_flight -= 1
            self.joining.discard(node)

    async def _section(self, lock: asyncio.Lock, name: str, node: str, seconds: Callable[[], float]) -> None:
        """Hold `lock` for `seconds()` simulated seconds, read once it is held: what a section
        has to do depends on what the joins before it did (only the first moves dqlite)."""
        async with lock:
            self.trace.append((name, "enter", node))
            await asyncio.sleep(seconds() * self.speed)
            self.trace.append((name, "leave", node))

    async def join(self, node: str, token: str, refusal: str | None = None) -> str | None:
        """The agent's side of one worker's join request: None when admitted, else the error it
        answers. `refusal`: the agent's answer to a joiner whose hostname does not resolve to
        its address (checked after the token, as the agent does)."""
        async with self._tokens_mu:
            self.trace.append(("tokens", "enter", node))
            key = token_key(token)
            expiry = self.tokens.get(key, "missing")
            valid = expiry is None or (isinstance(expiry, float | int) and expiry > time.time())
            if valid and expiry is None:
                del self.tokens[key]  # single use: gone with this request, whatever follows
            await asyncio.sleep(SECTION_S * self.speed)
            self.trace.append(("tokens", "leave", node))
        if not valid:
            return "Connection failed. Invalid token (500)."
        if refusal is not None:
            return refusal

        def dqlite() -> float:
            rebind, self.dqlite_rebound = not self.dqlite_rebound, True
            self.dqlite_rebinds += rebind
            return SECTION_S + (DQLITE_REBIND_S if rebind else 0.0)

        def calico() -> float:
            patch, self.calico_patched = not self.calico_patched, True
            self.calico_applies += patch
            return SECTION_S + (CALICO_APPLY_S if patch else 0.0)

        await self._section(self._dqlite_mu, "dqlite", node, dqlite)
        await self._section(self._calico_mu, "calico", node, calico)
        await self._section(self._cert_tokens_mu, "cert-tokens", node, lambda: SECTION_S)
        return None


def token_key(token: str) -> str:
    """How the lab files a join token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()
