"""Headless output: plain lines, the 0600 log file, and secrets masked everywhere."""

import io
import os

import pytest

from thinkube_tui.events import ComponentFailed, ComponentStarted, LogLines, RunFinished, StepStarted
from thinkube_tui.printer import LogFile, PlainPrinter
from thinkube_tui.secrets import MASK, MissingSecret, Secrets, generate_password
from thinkube_tui.spec import SecretRef


def test_resolve_from_env_and_file_and_mask():
    s = Secrets({"db": "file-secret-value"}, environ={"TK_PW": "env-secret-value"})
    assert s.resolve(SecretRef(env="TK_PW"), "sudo on tk-1") == "env-secret-value"
    assert s.resolve(SecretRef(secret="db"), "postgres") == "file-secret-value"
    assert s.mask("a env-secret-value b file-secret-value") == f"a {MASK} b {MASK}"
    generated = generate_password()
    s.register(generated)
    assert generated not in s.mask(f"password={generated}")


def test_missing_secret_says_where():
    s = Secrets({}, environ={})
    with pytest.raises(MissingSecret, match="sudo on tk-1: environment variable TK_PW is not set"):
        s.resolve(SecretRef(env="TK_PW"), "sudo on tk-1")
    with pytest.raises(MissingSecret, match="no key 'x'"):
        s.resolve(SecretRef(secret="x"), "grafana")


def test_generated_passwords_are_strong_and_distinct():
    a, b = generate_password(), generate_password()
    assert a != b and len(a) == 32 and a.isalnum()


def test_plain_printer_lines_are_timestamped_prefixed_and_masked():
    s = Secrets(environ={"P": "hunter2-canary"})
    s.resolve(SecretRef(env="P"), "x")
    out = io.StringIO()
    printer = PlainPrinter(out, s.mask)
    printer(ComponentStarted("vault"))
    printer(StepStarted("vault", "init"))
    printer(LogLines("vault", ("token is hunter2-canary", "ok")))
    printer(ComponentFailed("vault", error="bad hunter2-canary", step="init", node="tk-1", output_tail="x\ny"))
    printer(RunFinished("", done=(), failed=("vault",), blocked=()))
    text = out.getvalue()
    assert "hunter2-canary" not in text
    lines = text.splitlines()
    assert lines[0].endswith("[vault] started") and lines[0][:4].isdigit()
    assert any("[vault] | token is ******" in line for line in lines)
    assert any("FAILED (node tk-1, step 'init'): bad ******" in line for line in lines)
    assert lines[-1].endswith("install finished with failures: 0 done, 1 failed, 0 blocked, 0 not run")


def test_log_file_is_private_even_if_it_existed(tmp_path):
    path = tmp_path / "logs" / "install.log"
    path.parent.mkdir()
    path.write_text("old\n")
    os.chmod(path, 0o644)
    log = LogFile(path, lambda t: t.replace("s3cret", MASK))
    log(ComponentStarted("a"))
    log.write("connecting with s3cret")
    log.close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert "s3cret" not in path.read_text() and "[a] started" in path.read_text()


def test_a_full_disk_under_the_log_stops_the_log_not_the_install(tmp_path):
    """A subscriber that raises would end the install from inside the engine: the log file
    keeps why it stopped instead, and the journal (on the same disk) stops the run."""
    import errno

    log = LogFile(tmp_path / "logs" / "install.log", lambda t: t)

    class FullDisk:
        def write(self, text=""):
            raise OSError(errno.ENOSPC, "No space left on device")

        flush = close = write

    log._file.close()
    log._file = FullDisk()
    log._printer = PlainPrinter(log._file, lambda t: t)
    log(ComponentStarted("a"))  # does not raise
    log.write("a line")
    log.close()
    assert log.error is not None and log.error.errno == errno.ENOSPC


def test_the_last_line_counts_every_planned_component_and_names_what_did_not_run():
    out = io.StringIO()
    PlainPrinter(out, lambda t: t)(
        RunFinished("", done=("a",), failed=(), blocked=(), not_run=("b", "c"), error="no space on /srv: cannot write")
    )
    text = out.getvalue()
    assert "install stopped: 1 done, 0 failed, 0 blocked, 2 not run" in text
    assert "not run: b, c" in text


def test_a_log_that_cannot_be_created_is_reported_not_raised(tmp_path, monkeypatch):
    import errno

    import thinkube_tui.printer as printer

    def no_space(*_args, **_kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(printer, "open_append", no_space, raising=False)
    monkeypatch.setattr(printer.os, "open", no_space)
    log = LogFile(tmp_path / "logs" / "install.log", lambda t: t)
    log(ComponentStarted("a"))
    log.write("a line")
    log.close()
    assert log.error is not None and log.error.errno == errno.ENOSPC
