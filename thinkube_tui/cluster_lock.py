"""One install per cluster at a time: a lock here, on the control node, and in the cluster.

A cluster is its name and its control node's address. Every command that changes it holds,
for as long as it runs:

- on this machine, an `flock` on `<state root>/locks/<name>@<address>.lock` (the user's state
  root, whatever `--state-dir` says, so two state directories still collide); the kernel drops
  it when the process dies, so a crashed holder is gone by construction;
- on the control node, before Kubernetes exists, the directory `/var/lib/thinkube-tui/install.lock`
  holding a record of the holder and an expiry, renewed while the run goes on -- so a second
  workstation is refused too. It comes into being whole, by renaming a directory that already
  holds the record (atomic: exactly one of two racing runs succeeds);
- in the cluster once its API answers, the Lease `thinkube-system/thinkube-tui-install`
  (coordination.k8s.io/v1: holderIdentity, leaseDurationSeconds, renewTime), taken and renewed
  with optimistic concurrency like Kubernetes' leader election.

A lock held by someone else is taken over only when its holder is proven gone (same host and
its process no longer runs) or its expiry passed without renewal; the takeover is said. A
refusal names the holder (user, host, pid, since when) and what to do; nothing was changed.
A renewal that finds another holder stops the run as failed (`LockLost`). Times come from an
injected clock: tests move it instead of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import getpass
import json
import os
import shlex
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from .files import default_state_dir, private_dir
from .kube import Kube, KubeConflict
from .spec import Spec
from .transport import Transport

EXIT_LOCKED = 4  # another run holds the cluster's lock: nothing was changed
LOCK_TTL_S = 300.0  # a holder that stops renewing loses its node lock and Lease after this
RENEW_EVERY_S = 60.0
NODE_LOCK_DIR = "/var/lib/thinkube-tui/install.lock"
LEASE_NAMESPACE = "thinkube-system"
LEASE_NAME = "thinkube-tui-install"
HOLDER_ANNOTATION = "thinkube.io/holder"
RELEASE_TIMEOUT_S = 30.0

Clock = Callable[[], float]
Say = Callable[[str], object]


class ClusterLockError(Exception):
    """The cluster's lock could not be held: the message says who holds it and what to do."""


class ClusterLocked(ClusterLockError):
    """Another run holds the lock: refused before anything changed."""


class LockLost(ClusterLockError):
    """Another run took the lock while this one ran: the run stopped as failed."""


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock; written into each lock so a refusal can name it."""

    token: str  # unique per run: tells our own lock from another's
    host: str
    pid: int
    user: str
    started: float
    cluster: str
    expires: float | None = None

    @classmethod
    def me(cls, cluster: str, clock: Clock) -> Holder:
        return cls(uuid.uuid4().hex, socket.gethostname(), os.getpid(), _user(), clock(), cluster)

    def describe(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid}), since {_when(self.started)}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        """The record, or None for anything that is not one (empty, torn, foreign)."""
        try:
            data = json.loads(text)
            holder = cls(
                token=str(data["token"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                user=str(data["user"]),
                started=float(data["started"]),
                cluster=str(data["cluster"]),
                expires=None if data.get("expires") is None else float(data["expires"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return holder


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def gone(holder: Holder, now: float, *, this_host: str, alive: Callable[[int], bool] = pid_alive) -> str | None:
    """Why `holder` is proven gone (then its lock may be taken over), or None while it may run."""
    if holder.expires is not None and holder.expires <= now:
        return f"its expiry ({_when(holder.expires)}) passed without renewal"
    if holder.host == this_host and not alive(holder.pid):
        return f"its process {holder.pid} no longer runs on {holder.host}"
    return None


def cluster_key(spec: Spec) -> str:
    control = spec.control
    address = control.host if control.port == 22 else f"{control.host}:{control.port}"
    return f"{spec.cluster.name}@{address}"


def lock_path(key: str, root: Path | None = None) -> Path:
    safe = "".join(c if c.isalnum() or c in "._-@:" else "_" for c in key)
    return (root or default_state_dir()) / "locks" / f"{safe}.lock"


def _refusal(key: str, holder: Holder | None, where: str, what_to_do: str) -> ClusterLocked:
    who = holder.describe() if holder else "a run whose record cannot be read"
    return ClusterLocked(
        f"the cluster {key} is locked by another install: {who} holds {where}. Nothing was changed. "
        f"What to do: {what_to_do}"
    )


# ============================================================================ this machine


# A refused run reads who holds the lock; the holder writes that just after taking the flock,
# so an empty record is waited for a moment (20 x 0.1 s) before it is reported as unreadable.
RECORD_WAITS, RECORD_WAIT_S = 20, 0.1


class LocalLock:
    """An flock on a file named for the cluster in the user's state root."""

    def __init__(self, path: Path, me: Holder, say: Say) -> None:
        self.path, self._me, self._say = path, me, say
        self._fd: int | None = None

    def acquire(self, key: str) -> None:
        private_dir(self.path.parent)
        try:  # O_NOFOLLOW: a symlink planted at the lock's name is refused, never followed
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            hint = "; it is a symlink: remove it" if exc.errno == errno.ELOOP else ""
            raise ClusterLockError(f"cannot open the lock file {self.path}: {exc.strerror}{hint}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = Holder.from_json(_read_fd(fd))
            for _ in range(RECORD_WAITS):  # the holder writes its record just after taking the flock
                if holder is not None:
                    break
                time.sleep(RECORD_WAIT_S)
                holder = Holder.from_json(_read_fd(fd))
            os.close(fd)
            pid = f"kill {holder.pid}" if holder else "stop it"
            raise _refusal(
                key,
                holder,
                f"the lock {self.path} on this machine",
                f"wait for that run to finish (or {pid}), then run the same command again.",
            ) from None
        previous = Holder.from_json(_read_fd(fd))
        if previous is not None and previous.token != self._me.token:
            self._say(f"taking over the lock {self.path}: its holder {previous.describe()} is gone (lock released)")
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, self._me.to_json().encode(), 0)
            os.fsync(fd)
        except OSError as exc:  # a full disk: the flock is held, but a refusal could not name us
            self.release()
            raise ClusterLockError(f"cannot write the lock file {self.path}: {exc.strerror}") from None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(OSError):  # a clean release leaves no holder behind to report as gone
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing drops the flock


def _read_fd(fd: int) -> str:
    return os.pread(fd, 65536, 0).decode(errors="replace")


# ============================================================================ the control node


class NodeLock:
    """A lock directory on the control node, made atomically with `mkdir` under sudo.

    Only POSIX sh, `mkdir`, `printf`, `cat`, `grep -qF`, `rm -rf` and coreutils' `mv -T`: the same
    on Ubuntu's dash and bash as in the lab. Renewal and release act only while the record is still ours.
    """

    def __init__(
        self,
        node: Transport,
        me: Holder,
        *,
        clock: Clock,
        ttl_s: float,
        say: Say,
        directory: str = NODE_LOCK_DIR,
        this_host: str | None = None,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self._node, self._me, self._clock, self._ttl, self._say = node, me, clock, ttl_s, say
        self._dir = directory
        self._record = f"{directory}/holder"
        self._this_host = this_host or me.host
        self._alive = alive
        self.held = False

    def _stamped(self) -> str:
        return shlex.quote(replace(self._me, expires=self._clock() + self._ttl).to_json())

    async def _sh(self, command: str) -> tuple[bool, str]:
        result = await self._node.run(command, sudo=True, timeout=60)
        return result.ok, result.stdout if result.ok else result.tail()

    async def acquire(self, key: str) -> None:
        parent = os.path.dirname(self._dir)
        draft = f"{parent}/.{os.path.basename(self._dir)}.{self._me.token}"
        p, d, record, t = (shlex.quote(x) for x in (parent, self._dir, self._record, draft))
        # The record is written into a draft directory renamed into place in one step (`mv -T`
        # is rename(2), refused onto a lock with entries): a racing run never finds the lock
        # without its holder, and a crash midway leaves no lock behind.
        create = (
            f"mkdir -p {p} && rm -rf {t} && mkdir {t} && printf '%s\\n' {self._stamped()} > {t}/holder "
            f"&& {{ mv -T {t} {d} || {{ rm -rf {t}; false; }}; }}"
        )
        why_not = ""
        for _ in range(3):
            ok, why_not = await self._sh(create)
            if ok:
                self.held = True
                return
            ok, text = await self._sh(f"cat {record}")
            holder = Holder.from_json(text) if ok else None
            if holder is None:
                exists, _ = await self._sh(f"test -d {d}")
                if not exists:
                    continue  # released between our two commands: try again
                raise _refusal(
                    key,
                    None,
                    f"the lock {self._dir} on {self._node.node}",
                    f"if no install runs, remove it with `sudo rm -r {self._dir}` on {self._node.node}.",
                )
            if holder.token == self._me.token:
                self.held = True
                return
            reason = gone(holder, self._clock(), this_host=self._this_host, alive=self._alive)
            if reason is None:
                expiry = f" (its lock expires at {_when(holder.expires)} unless renewed)" if holder.expires else ""
                raise _refusal(
                    key,
                    holder,
                    f"the lock {self._dir} on {self._node.node}",
                    f"wait for that run to finish, then run the same command again{expiry}.",
                )
            self._say(f"taking over the lock {self._dir} on {self._node.node} from {holder.describe()}: {reason}")
            # Removed only while it still holds the record judged stale: a run that took it
            # over meanwhile keeps it.
            await self._sh(f"grep -qF {shlex.quote(holder.token)} {record} && rm -rf {d}")
        raise ClusterLockError(f"could not create the lock {self._dir} on {self._node.node}: {why_not}")

    async def renew(self) -> None:
        """Push the expiry on; `LockLost` when the record is no longer ours."""
        record, draft = shlex.quote(self._record), shlex.quote(self._record + ".new")
        ok, _ = await self._sh(  # rewritten by rename, never truncated in place under a reader
            f"grep -qF {shlex.quote(self._me.token)} {record} && printf '%s\\n' {self._stamped()} > {draft} "
            f"&& mv -f {draft} {record}"
        )
        if ok:
            return
        ok, text = await self._sh(f"cat {record}")
        holder = Holder.from_json(text) if ok else None
        self.held = False
        who = f"is now held by {holder.describe()}" if holder else "was removed"
        raise LockLost(f"the lock {self._dir} on {self._node.node} {who}: this run stopped")

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        token, record, d = (shlex.quote(p) for p in (self._me.token, self._record, self._dir))
        await self._sh(f"grep -qF {token} {record} && rm -rf {d}")


# ============================================================================ the cluster


def _micro_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


def lease_holder(lease: dict[str, Any]) -> Holder | None:
    """Who holds a Lease (expiry: renewTime + leaseDurationSeconds); None when it is free."""
    spec = lease.get("spec") or {}
    identity = spec.get("holderIdentity")
    if not identity:
        return None
    renewed = _parse_time(spec.get("renewTime")) or _parse_time(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    expires = renewed + duration if renewed is not None and isinstance(duration, int) else None
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    recorded = Holder.from_json(annotations.get(HOLDER_ANNOTATION, ""))
    if recorded is not None:
        return replace(recorded, expires=expires)
    # Held by something that is not thinkube-tui: all we know is its identity.
    return Holder(str(identity), str(identity), 0, "?", renewed or 0.0, "", expires)


class LeaseLock:
    """The Lease `thinkube-system/thinkube-tui-install`, compare-and-swapped on resourceVersion."""

    def __init__(
        self,
        me: Holder,
        *,
        clock: Clock,
        ttl_s: float,
        say: Say,
        this_host: str | None = None,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self._me, self._clock, self._ttl, self._say = me, clock, ttl_s, say
        self._this_host = this_host or me.host
        self._alive = alive
        self.held = False

    def _spec(self, old: dict[str, Any] | None) -> dict[str, Any]:
        now = _micro_time(self._clock())
        old_spec = (old or {}).get("spec") or {}
        mine = lease_holder(old) if old else None
        ours = mine is not None and mine.token == self._me.token
        transitions = int(old_spec.get("leaseTransitions") or 0) + (0 if ours or old is None else 1)
        return {
            "holderIdentity": f"{self._me.user}@{self._me.host} pid {self._me.pid} ({self._me.token[:8]})",
            "leaseDurationSeconds": int(self._ttl),
            "acquireTime": old_spec.get("acquireTime") if ours else now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _object(self, old: dict[str, Any] | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": LEASE_NAME,
            "namespace": LEASE_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "thinkube-tui"},
            "annotations": {HOLDER_ANNOTATION: self._me.to_json()},
        }
        if old is not None:
            metadata["resourceVersion"] = old["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": self._spec(old)}

    async def _get(self, kube: Kube) -> dict[str, Any] | None:
        return await kube.get("coordination.k8s.io/v1", "Lease", LEASE_NAME, LEASE_NAMESPACE)

    async def acquire(self, kube: Kube, key: str) -> None:
        for _ in range(3):
            old = await self._get(kube)
            try:
                if old is None:
                    await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LEASE_NAMESPACE}})
                    await kube.create(self._object(None))
                    self.held = True
                    return
                holder = lease_holder(old)
                if holder is not None and holder.token != self._me.token:
                    reason = gone(holder, self._clock(), this_host=self._this_host, alive=self._alive)
                    if reason is None:
                        raise _refusal(
                            key,
                            holder,
                            f"the Lease {LEASE_NAMESPACE}/{LEASE_NAME} in the cluster",
                            "wait for that run to finish, then run the same command again (the Lease expires "
                            f"{int(self._ttl)} s after its holder last renewed it).",
                        )
                    self._say(
                        f"taking over the Lease {LEASE_NAMESPACE}/{LEASE_NAME} from {holder.describe()}: {reason}"
                    )
                await kube.replace(self._object(old))
                self.held = True
                return
            except KubeConflict:
                continue  # another run wrote it between our read and write: read it again
        raise ClusterLocked(f"the Lease {LEASE_NAMESPACE}/{LEASE_NAME} keeps changing under us: another run races")

    async def renew(self, kube: Kube) -> None:
        old = await self._get(kube)
        holder = lease_holder(old) if old else None
        if holder is None or holder.token != self._me.token:
            self.held = False
            who = f"is now held by {holder.describe()}" if holder else "was released by someone else"
            raise LockLost(f"the Lease {LEASE_NAMESPACE}/{LEASE_NAME} {who}: this run stopped")
        assert old is not None
        await kube.replace(self._object(old))  # a conflict: someone wrote it; the next renewal looks again

    async def release(self, kube: Kube) -> None:
        if not self.held:
            return
        self.held = False
        old = await self._get(kube)
        holder = lease_holder(old) if old else None
        if old is None or holder is None or holder.token != self._me.token:
            return
        freed = self._object(old)
        freed["metadata"]["annotations"] = {}
        freed["spec"] = {"leaseDurationSeconds": 1, "leaseTransitions": freed["spec"]["leaseTransitions"]}
        with contextlib.suppress(KubeConflict):
            await kube.replace(freed)


# ============================================================================ all three


class ClusterLock:
    """`async with ClusterLock(...)`: the three locks, renewed in the background while held.

    When a renewal finds another holder, `on_lost` is called (e.g. the engine's cancel; the
    caller then reads `lost`); without one, the task that entered is cancelled and leaving the
    block raises `LockLost` (the run stopped as failed). Transient renewal errors (SSH down, the
    API server restarting) are reported and tried again at the next renewal.
    """

    def __init__(
        self,
        spec: Spec,
        control: Transport,
        *,
        say: Say,
        kube: Callable[[], Awaitable[Kube]] | None = None,
        api_ready: Callable[[], bool] = lambda: False,
        root: Path | None = None,
        clock: Clock = time.time,
        ttl_s: float = LOCK_TTL_S,
        renew_every_s: float = RENEW_EVERY_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        me: Holder | None = None,
        alive: Callable[[int], bool] = pid_alive,
        node_lock_dir: str = NODE_LOCK_DIR,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.key = cluster_key(spec)
        self.me = me or Holder.me(self.key, clock)
        self._say, self._kube, self._api_ready = say, kube, api_ready
        self._renew_every, self._sleep = renew_every_s, sleep
        self.local = LocalLock(lock_path(self.key, root), self.me, say)
        common: dict[str, Any] = {"clock": clock, "ttl_s": ttl_s, "say": say, "alive": alive}
        self.node = NodeLock(control, self.me, directory=node_lock_dir, **common)
        self.lease = LeaseLock(self.me, **common)
        self.lost: str | None = None
        self._on_lost = on_lost
        self._owner: asyncio.Task[Any] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._lease_error_said = False
        self._wake = asyncio.Event()

    async def __aenter__(self) -> ClusterLock:
        self.local.acquire(self.key)
        try:
            await self.node.acquire(self.key)
            if self._api_ready():
                await self._take_lease()
        except BaseException:
            await self._release()
            raise
        self._owner = asyncio.current_task()
        self._renewer = asyncio.get_running_loop().create_task(self._renew_loop(), name="cluster-lock-renewal")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self._release()
        if self.lost is not None and self._on_lost is None:
            if self._owner is not None and self._owner.cancelling():
                self._owner.uncancel()  # our own cancellation, turned into the failure it stands for
            raise LockLost(self.lost) from None

    async def _take_lease(self) -> None:
        """Take the Lease if the API answers; a refusal is raised, anything else tried again later."""
        if self._kube is None:
            return
        try:
            await self.lease.acquire(await self._kube(), self.key)
        except ClusterLockError:
            raise
        except Exception as exc:  # the API server not up yet, restarting: the next renewal tries again
            if not self._lease_error_said:
                self._say(f"note: could not take the cluster's Lease yet ({exc}); trying again while installing")
                self._lease_error_said = True

    async def renew(self) -> None:
        """One round: push the node lock and the Lease on; take the Lease once the API exists."""
        await self.node.renew()
        if self._kube is None:
            return
        if self.lease.held:
            with contextlib.suppress(KubeConflict):  # written meanwhile: the next round reads who holds it
                await self.lease.renew(await self._kube())
        elif self._api_ready():
            await self._take_lease()

    def __call__(self, event: object) -> None:
        """An event-bus subscriber: once `microk8s-control` is done, take the Lease right away."""
        from .cluster_state import CLUSTER_READY
        from .events import ComponentDone

        if isinstance(event, ComponentDone) and event.component == CLUSTER_READY:
            self._wake.set()

    async def _nap(self) -> None:
        """Sleep until the next renewal, or until woken."""
        sleeper = asyncio.ensure_future(self._sleep(self._renew_every))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
            self._wake.clear()

    async def _renew_loop(self) -> None:
        while True:
            await self._nap()
            try:
                await self.renew()
            except ClusterLockError as exc:
                self.lost = str(exc)
                self._say(f"error: {exc}")
                if self._on_lost is not None:
                    self._on_lost()
                elif self._owner is not None:
                    self._owner.cancel()
                return
            except Exception as exc:  # SSH or the API away for a moment: renew next round
                self._say(f"warning: could not renew the install lock ({type(exc).__name__}: {exc}); trying again")

    async def _release(self) -> None:
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_S):
                if self.lease.held and self._kube is not None:
                    await self.lease.release(await self._kube())
                await self.node.release()
        except Exception as exc:  # it expires on its own; say so
            self._say(f"warning: could not release the install lock ({exc}); it expires on its own")
        finally:
            self.local.release()


def install_lock(
    cluster: Any,
    installed: Callable[[], Collection[str]],
    say: Say,
    *,
    on_lost: Callable[[], None] | None = None,
    lease: bool = True,
) -> ClusterLock:
    """The lock an install holds (`cluster` an `installers.base.Cluster`, `installed` what the
    journal has done): the Lease is taken at once when MicroK8s runs on the control node
    already, else once `microk8s-control` is done. `lease=False` (reset, which deletes the
    cluster the Lease lives in): the lock file on the control node and the local lock only."""
    from .cluster_state import CLUSTER_READY

    spec = cluster.spec
    facts = cluster.facts.get(spec.control.name)
    running = facts is not None and facts.microk8s.installed is True
    return ClusterLock(
        spec,
        cluster.nodes[spec.control.name],
        say=say,
        kube=cluster.kube,
        api_ready=lambda: lease and (running or CLUSTER_READY in installed()),
        on_lost=on_lost,
    )
