"""The lab's protobuf decoding refuses what it does not understand (real kubectl bodies are
covered by test_kubectl_conformance)."""

from __future__ import annotations

import pytest

from thinkube_lab.kubeapi_protobuf import MAGIC, Undecodable, decode


def _field(number: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def _envelope(api_version: bytes, kind: bytes, raw: bytes) -> bytes:
    return MAGIC + _field(1, _field(1, api_version) + _field(2, kind)) + _field(2, raw)


def test_a_configmap_decodes() -> None:
    meta = _field(1, b"cfg") + _field(3, b"") + _field(11, _field(1, b"app") + _field(2, b"web"))
    raw = _field(1, meta) + _field(2, _field(1, b"k") + _field(2, b"v"))
    assert decode(_envelope(b"v1", b"ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "labels": {"app": "web"}},
        "data": {"k": "v"},
    }


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{}", "envelope"),
        (_envelope(b"apps/v1", b"Deployment", b""), "kind Deployment"),
        (_envelope(b"v1", b"ConfigMap", _field(9, b"x")), "field 9"),
        (_envelope(b"v1", b"ConfigMap", b"\x0a\x20abc"), "truncated"),
    ],
)
def test_what_it_does_not_understand_is_refused(body: bytes, why: str) -> None:
    with pytest.raises(Undecodable, match=why):
        decode(body)
