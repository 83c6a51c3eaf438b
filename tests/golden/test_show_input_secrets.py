"""`--dry-run --show-input` shows what every command would send, and no secret in it.

The full example with canary component secrets from a 0600 secrets file (Grafana's admin
password, Valkey's password, as the security tests use them): the canaries reach the Helm
values (the run registers them), yet neither they nor any value the run generated or
registered (passwords, join tokens) appears in the output; in their place, the mask.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest
import yaml

from thinkube_tui.headless import HeadlessOptions, run
from thinkube_tui.secrets import MASK, MIN_MASKED_LENGTH, Secrets

ROOT = Path(__file__).resolve().parents[2]
GRAFANA_CANARY = "canary-grafana-Wd5k1Pn8"
VALKEY_CANARY = "canary-valkey-Rx2c7Jh4"


async def test_show_input_masks_every_secret(tmp_path, monkeypatch):
    registered: set[str] = set()
    original_register = Secrets.register

    def register(self: Secrets, value: str) -> None:
        registered.add(value)
        original_register(self, value)

    monkeypatch.setattr(Secrets, "register", register)
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(f"grafana-admin: {GRAFANA_CANARY}\nvalkey-password: {VALKEY_CANARY}\n")
    os.chmod(secrets_file, 0o600)
    data = yaml.safe_load((ROOT / "examples" / "answers-full.yaml").read_text())
    data["components"]["grafana"] = {**data["components"]["grafana"], "adminPassword": {"secret": "grafana-admin"}}
    data["components"]["valkey"] = {**data["components"]["valkey"], "password": {"secret": "valkey-password"}}
    data["secretsFile"] = str(secrets_file)
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(data, sort_keys=False))

    out = io.StringIO()
    options = HeadlessOptions(answers=answers, dry_run=True, show_input=True, state_dir=tmp_path / "state")
    assert await run(options, out=out, err=out) == 0, out.getvalue()[-3000:]
    text = out.getvalue()

    # The canaries were used (resolved into values), and generated passwords and join tokens too.
    assert {GRAFANA_CANARY, VALKEY_CANARY} <= registered
    assert len([v for v in registered if len(v) >= 16]) > 10, registered
    for value in sorted(registered, key=len, reverse=True):
        if len(value) >= MIN_MASKED_LENGTH:
            # pytest.fail, not assert: a failure must not print the secret either
            if value in text:
                pytest.fail(f"a secret ({len(value)} characters) is in the --show-input output")
            if base64.b64encode(value.encode()).decode() in text:
                pytest.fail(f"a secret ({len(value)} characters) is in the output, base64-encoded")
    # What was sent is shown, masked: values, Secrets' data, the workers' join string.
    assert text.count(MASK) > 50
    assert f":25000/{MASK}/" in text
    assert "(input on stdin)\n      | " in text


def test_show_input_needs_dry_run(capsys):
    from thinkube_tui.cli import EXIT_INVALID, main

    assert main(["--answers", str(ROOT / "examples" / "answers-full.yaml"), "--show-input"]) == EXIT_INVALID
    assert "use it with --answers FILE --dry-run" in capsys.readouterr().err
