"""Vault's secrets engines as the lab's Vault answers them: `sys/mounts` (list, enable) and the
KV version 2 engine (`<mount>/data/<path>`: write a new version, read the latest), with Vault's
own answers for a path no engine is mounted at.

https://developer.hashicorp.com/vault/api-docs/system/mounts,
https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
"""

from __future__ import annotations

import re
import time
from typing import Any

Obj = dict[str, Any]
BUILTIN = {"sys/": "system", "cubbyhole/": "cubbyhole", "identity/": "identity"}


def _err(code: int, *messages: str) -> tuple[int, Any]:
    return code, {"errors": list(messages)}


def route(st: dict[str, Any], method: str, path: str, body: Obj) -> tuple[int, Any] | None:
    """The answer to an authenticated request on an unsealed Vault, or None when it is not about
    mounts or a mounted engine."""
    mounts: dict[str, Obj] = st.setdefault("mounts", {})
    if path == "/v1/sys/mounts" and method == "GET":
        listed = {m: {"type": t, "options": None} for m, t in BUILTIN.items()}
        listed.update({m: {"type": e["type"], "options": e.get("options")} for m, e in mounts.items()})
        return 200, {**listed, "data": listed}
    m = re.fullmatch(r"/v1/sys/mounts/(.+)", path)
    if m and method == "PUT":
        mount = m.group(1).strip("/") + "/"
        if mount in mounts or mount in BUILTIN:
            return _err(400, f"path is already in use at {mount}")
        if body.get("type") not in ("kv", "kv-v2"):
            return _err(400, f"thinkube-lab: Vault's {body.get('type')!r} engine is not simulated")
        version = "2" if body.get("type") == "kv-v2" else str((body.get("options") or {}).get("version", "1"))
        mounts[mount] = {"type": "kv", "options": {"version": version}, "data": {}}
        return 204, None
    if not path.startswith("/v1/"):
        return None
    rest = path[len("/v1/") :]
    mount = next((name for name in mounts if rest.startswith(name)), None)
    if mount is None:
        return None
    engine = mounts[mount]
    sub = rest[len(mount) :]
    if engine["options"].get("version") != "2" or not sub.startswith("data/"):
        return _err(404, f"no handler for route {rest!r}. route entry not found.")
    key = sub[len("data/") :]
    versions: list[Obj] = engine["data"].setdefault(key, [])
    if method == "PUT":
        data = body.get("data")
        if not isinstance(data, dict):
            return _err(400, "no data provided")
        meta = {"created_time": time.strftime("%Y-%m-%dT%H:%M:%SZ"), "version": len(versions) + 1}
        versions.append({"data": {str(k): v for k, v in data.items()}, "metadata": meta})
        return 200, {"data": {**meta, "deletion_time": "", "destroyed": False}}
    if method == "GET":
        if not versions:
            return _err(404)
        latest = versions[-1]
        return 200, {"data": {"data": latest["data"], "metadata": {**latest["metadata"], "deletion_time": ""}}}
    return _err(405)
