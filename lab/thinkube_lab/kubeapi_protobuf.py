"""Protobuf request bodies (`application/vnd.kubernetes.protobuf`) for a few simple kinds.

kubectl's typed commands (`create namespace|configmap|secret|serviceaccount`) send protobuf:
the envelope `k8s\\0` + runtime.Unknown{typeMeta, raw}, `raw` being the object's message
(k8s.io/api/core/v1/generated.proto). The lab decodes those kinds into the JSON form the rest
of the emulator handles; anything else -- another kind, a field it does not know -- is refused
with 415 and says so, never guessed at.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class Undecodable(ValueError):
    """The body is not protobuf the lab decodes."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(buf):
            raise Undecodable("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited fields."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            out.append((number, value))
        elif wire == 2:
            size, i = _varint(buf, i)
            if i + size > len(buf):
                raise Undecodable("truncated field")
            out.append((number, buf[i : i + size]))
            i += size
        else:
            raise Undecodable(f"wire type {wire} (field {number})")
    return out


def _str(v: int | bytes) -> str:
    if not isinstance(v, bytes):
        raise Undecodable("expected a string")
    return v.decode()


def _bytes(v: int | bytes) -> bytes:
    if not isinstance(v, bytes):
        raise Undecodable("expected bytes")
    return v


def _entry(v: int | bytes) -> tuple[str, bytes]:
    """A map entry: key = 1, value = 2."""
    parts = dict(fields(_bytes(v)))
    return _str(parts.get(1, b"")), _bytes(parts.get(2, b""))


Decoder = Callable[[Obj, int | bytes], None]


def _put(name: str) -> Decoder:
    def put(o: Obj, v: int | bytes) -> None:
        if _str(v):  # Go writes empty strings too; in JSON they are omitted (omitempty), so defaults apply
            o[name] = _str(v)

    return put


def _map(name: str, binary: bool = False) -> Decoder:
    def put(o: Obj, v: int | bytes) -> None:
        k, val = _entry(v)
        o.setdefault(name, {})[k] = base64.b64encode(val).decode() if binary else val.decode()

    return put


def _list(name: str) -> Decoder:
    return lambda o, v: o.setdefault(name, []).append(_str(v))


def _flag(name: str) -> Decoder:
    return lambda o, v: o.__setitem__(name, bool(v))


def _message(schema: dict[int, Decoder]) -> Callable[[bytes], Obj]:
    def decode(buf: bytes) -> Obj:
        out: Obj = {}
        for number, value in fields(buf):
            if number not in schema:
                raise Undecodable(f"field {number}")
            schema[number](out, value)
        return out

    return decode


def _ignore(o: Obj, v: int | bytes) -> None:
    """A field the server sets itself (Go's encoder writes every non-pointer field)."""


def _sub(name: str, decode: Callable[[bytes], Obj]) -> Decoder:
    return lambda o, v: o.__setitem__(name, decode(_bytes(v)))


# ObjectMeta as clients send it on create (server-set fields are ignored by the emulator anyway).
_meta = _message(
    {
        1: _put("name"),
        2: _put("generateName"),
        3: _put("namespace"),
        5: _put("uid"),
        4: _ignore,  # selfLink
        6: _put("resourceVersion"),
        7: _ignore,  # generation
        8: _ignore,  # creationTimestamp
        9: _ignore,  # deletionTimestamp
        10: _ignore,  # deletionGracePeriodSeconds
        11: _map("labels"),
        12: _map("annotations"),
        14: _list("finalizers"),
    }
)
KINDS: dict[tuple[str, str], Callable[[bytes], Obj]] = {
    ("v1", "Namespace"): _message(
        {1: _sub("metadata", _meta), 2: _sub("spec", _message({1: _list("finalizers")})), 3: _ignore}  # 3: status
    ),
    ("v1", "ConfigMap"): _message(
        {1: _sub("metadata", _meta), 2: _map("data"), 3: _map("binaryData", binary=True), 4: _flag("immutable")}
    ),
    ("v1", "Secret"): _message(
        {
            1: _sub("metadata", _meta),
            2: _map("data", binary=True),
            3: _put("type"),
            4: _map("stringData"),
            5: _flag("immutable"),
        }
    ),
    ("v1", "ServiceAccount"): _message({1: _sub("metadata", _meta), 4: _flag("automountServiceAccountToken")}),
}


def decode(body: bytes) -> Obj:
    """The object a protobuf request body carries, as JSON; `Undecodable` says why not."""
    if not body.startswith(MAGIC):
        raise Undecodable("no k8s protobuf envelope")
    unknown = dict(fields(body[len(MAGIC) :]))
    type_meta = dict(fields(_bytes(unknown.get(1, b""))))
    api_version, kind = _str(type_meta.get(1, b"")), _str(type_meta.get(2, b""))
    if unknown.get(3) or unknown.get(4):
        raise Undecodable("an encoded or typed payload")
    decoder = KINDS.get((api_version, kind))
    if decoder is None:
        raise Undecodable(f"kind {kind} ({api_version})")
    obj = decoder(_bytes(unknown.get(2, b"")))
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj
