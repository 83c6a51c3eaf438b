"""Secret values: where they come from, and keeping them out of everything that is written.

The Spec only holds `SecretRef`s. A `Secrets` resolves them — from the environment or the
0600 secrets file — when a value is needed, and remembers every value it handed out (and
every value registered later, e.g. a generated password) so that `mask` can blank them out of
log lines, events and error messages before those are shown or written anywhere.

Every log line passes through `mask`, and a large cluster registers a secret per node (join
tokens), so both stay cheap as secrets pile up: registering adds a value to an index (no
pattern rebuilt), masking probes the text at a stride and costs about its length over that
stride, however many secrets there are (`_Band`).
"""

from __future__ import annotations

import os
import secrets as _random
import string
from collections.abc import Mapping

import yaml

from .spec import SecretRef

MASK = "******"
# Short values would blank out ordinary words; nothing we generate or accept is this short.
MIN_MASKED_LENGTH = 4


class MissingSecret(Exception):
    """A referenced secret is not available; says which and where it was expected."""


class Secrets:
    def __init__(self, file_values: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._file = dict(file_values or {})
        self._environ = environ if environ is not None else os.environ
        self._known: set[str] = set()
        self._vault: dict[str, str] = {}  # MOUNT/PATH#KEY -> value, read from Vault for this run
        self._vault_unread = "Vault was not read in this run"  # why a Vault reference has no value
        self._bands: dict[int, _Band] = {}  # by the shortest length each one holds

    def provide_vault(self, values: Mapping[str, str], unread: str = "") -> None:
        """What this run read from Vault for the answers' `{vault: ...}` references (vault_kv.py),
        and why the others could not be read."""
        for value in values.values():
            self.register(value)
        self._vault.update(values)
        if unread:
            self._vault_unread = unread

    def resolve(self, ref: SecretRef, used_for: str) -> str:
        if ref.vault is not None:
            if ref.vault not in self._vault:
                raise MissingSecret(f"{used_for}: {ref.vault} could not be read from Vault: {self._vault_unread}")
            return self._vault[ref.vault]
        if ref.env is not None:
            value = self._environ.get(ref.env)
            if not value:
                raise MissingSecret(
                    f"{used_for}: environment variable {ref.env} is not set (export it, "
                    "or point the answers file at the secrets file instead)"
                )
        else:
            assert ref.secret is not None
            if ref.secret not in self._file:
                raise MissingSecret(f"{used_for}: the secrets file has no key {ref.secret!r}")
            value = self._file[ref.secret]
        self.register(value)
        return value

    def register(self, value: str) -> None:
        """Treat `value` as a secret from now on (generated passwords, tokens read back)."""
        if len(value) >= MIN_MASKED_LENGTH and value not in self._known:
            self._known.add(value)
            # Lengths in [low, 2*low) share a band: the stride suits its shortest secret.
            low = max(MIN_MASKED_LENGTH, 1 << (len(value).bit_length() - 1))
            band = self._bands.get(low)
            if band is None:
                band = self._bands[low] = _Band(low)
            band.add(value)

    def register_kubeconfig(self, text: str) -> None:
        """Treat the credentials in a kubeconfig (tokens, keys, passwords) as secrets."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return
        for user in (data or {}).get("users", []) if isinstance(data, dict) else []:
            for key, value in ((user or {}).get("user") or {}).items():
                if key in ("token", "client-key-data", "password") and isinstance(value, str):
                    self.register(value)

    def mask(self, text: str) -> str:
        """`text` with every occurrence of every secret blanked out. Where occurrences overlap
        or one secret contains another, the whole stretch they cover becomes one MASK."""
        if not self._bands or len(text) < MIN_MASKED_LENGTH:
            return text
        found: list[tuple[int, int]] = []
        for band in self._bands.values():
            band.find(text, found)
        if not found:
            return text
        found.sort()
        pieces: list[str] = []
        done = 0  # text before this is written out (or masked)
        start, end = found[0]
        for next_start, next_end in found[1:]:
            if next_start < end:  # overlaps the stretch: extend it
                end = max(end, next_end)
                continue
            pieces += (text[done:start], MASK)
            done, start, end = end, next_start, next_end
        pieces += (text[done:start], MASK, text[end:])
        return "".join(pieces)


class _Band:
    """The secrets of lengths `low` to 2*`low`-1, found by probing a text every `step` characters.

    Any occurrence of such a secret spans at least `low` characters, so one probe position
    falls within its first `step` = low - GRAM + 1 characters, and the GRAM characters from
    there lie inside it. The index maps each secret's GRAM-character pieces at offsets
    0..step-1 to (offset, secret): a probe that meets one checks that secret in full. Adding a
    secret costs `step` entries; a probe costs one dictionary lookup.
    """

    GRAM = MIN_MASKED_LENGTH

    def __init__(self, low: int) -> None:
        self.step = low - self.GRAM + 1
        self.index: dict[str, list[tuple[int, str]]] = {}

    def add(self, value: str) -> None:
        for offset in range(self.step):
            self.index.setdefault(value[offset : offset + self.GRAM], []).append((offset, value))

    def find(self, text: str, found: list[tuple[int, int]]) -> None:
        """Append (start, end) of every occurrence in `text` of a secret of this band."""
        lookup, gram = self.index.get, self.GRAM
        for probe in range(0, len(text) - gram + 1, self.step):
            candidates = lookup(text[probe : probe + gram])
            if candidates is not None:
                for offset, value in candidates:
                    start = probe - offset
                    if start >= 0 and text.startswith(value, start):
                        found.append((start, start + len(value)))


def generate_password(length: int = 32) -> str:
    """A strong password of letters and digits (no symbols: they break URLs and config files)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(_random.choice(alphabet) for _ in range(length))
