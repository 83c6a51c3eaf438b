"""Secret values: where they come from, and keeping them out of everything that is written.

The Spec only holds `SecretRef`s. A `Secrets` resolves them — from the environment or the
0600 secrets file — when a value is needed, and remembers every value it handed out (and
every value registered later, e.g. a generated password) so that `mask` can blank them out of
log lines, events and error messages before those are shown or written anywhere.
"""

from __future__ import annotations

import os
import re
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
        self._pattern: re.Pattern[str] | None = None

    def resolve(self, ref: SecretRef, used_for: str) -> str:
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
            # Longest first, so a secret that contains another is masked whole.
            alternatives = sorted(self._known, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))

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
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)


def generate_password(length: int = 32) -> str:
    """A strong password of letters and digits (no symbols: they break URLs and config files)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(_random.choice(alphabet) for _ in range(length))
