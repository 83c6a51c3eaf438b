"""The emulator's state on disk: a snapshot and a log of changes, replayed on load.

What was saved comes back exactly (objects written, changed and deleted across many saves);
a last log line cut short by a crash is ignored; a log left over from before the snapshot is
not replayed over it; the log is folded into a new snapshot once it outgrows it; both 0600."""

from __future__ import annotations

import json
from pathlib import Path

from thinkube_lab.kubeapi import STATE_FILE, KubeApiEmulator
from thinkube_lab.kubeapi_store import StateFiles


def cm(name: str, value: str, ns: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"v": value}}


def counters(rv: int) -> dict:
    return {"resourceVersion": rv, "token": "t", "port": 1, "nextServiceIP": 1}


def test_saves_append_and_load_replays_them(tmp_path: Path) -> None:
    files = StateFiles(tmp_path / "state.json")
    a, b = cm("a", "1"), cm("b", "1")
    files.save(counters(2), [a, b], {})  # the first save is a snapshot
    a2 = cm("a", "2")
    files.save(counters(3), [a2, b], {("v1", "ConfigMap", "default", "a"): a2})
    files.save(counters(4), [a2], {("v1", "ConfigMap", "default", "b"): None})
    assert files.log.exists() and len(files.log.read_text().splitlines()) == 2
    data, objects = StateFiles(tmp_path / "state.json").load()
    assert data["resourceVersion"] == 4 and objects == [a2]
    for path in (files.snapshot, files.log):
        assert path.stat().st_mode & 0o777 == 0o600


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    files = StateFiles(tmp_path / "state.json")
    files.save(counters(1), [cm("a", "1")], {})
    files.save(counters(2), [cm("a", "2")], {("v1", "ConfigMap", "default", "a"): cm("a", "2")})
    with files.log.open("a") as f:
        f.write('{"resourceVersion":3,"put":[{"apiVersion":"v1","ki')  # the crash
    data, objects = StateFiles(tmp_path / "state.json").load()
    assert data["resourceVersion"] == 2 and objects == [cm("a", "2")]


def test_a_log_older_than_the_snapshot_is_not_replayed(tmp_path: Path) -> None:
    files = StateFiles(tmp_path / "state.json")
    files.save(counters(1), [cm("a", "1")], {})
    files.save(counters(2), [cm("a", "2")], {("v1", "ConfigMap", "default", "a"): cm("a", "2")})
    stale = files.log.read_text()
    files._seq += 1
    files._write_snapshot({**counters(5), "save": files._seq, "objects": [cm("a", "5")]})
    files.log.write_text(stale)  # a crash between the snapshot's rename and the log's removal
    _, objects = StateFiles(tmp_path / "state.json").load()
    assert objects == [cm("a", "5")]


def test_a_save_that_changed_only_counters_is_kept(tmp_path: Path) -> None:
    """A restart on another port writes no object: its line must still count."""
    files = StateFiles(tmp_path / "state.json")
    files.save(counters(4), [cm("a", "1")], {})
    files.save({**counters(4), "port": 2}, [cm("a", "1")], {})
    data, _ = StateFiles(tmp_path / "state.json").load()
    assert data["port"] == 2


def test_a_long_log_is_folded_into_a_new_snapshot(tmp_path: Path) -> None:
    files = StateFiles(tmp_path / "state.json")
    files.save(counters(1), [cm("a", "0")], {})
    rv = 1
    while files.log.exists() or rv == 1:
        rv += 1
        obj = cm("a", "x" * 1000 + str(rv))
        files.save(counters(rv), [obj], {("v1", "ConfigMap", "default", "a"): obj})
        assert rv < 500, "the log was never folded"
    assert json.loads(files.snapshot.read_text())["resourceVersion"] == rv
    _, objects = StateFiles(tmp_path / "state.json").load()
    assert objects == [obj]


async def test_the_emulator_comes_back_as_it_was(tmp_path: Path) -> None:
    async with KubeApiEmulator(state_dir=tmp_path) as emu:
        for i in range(30):
            emu.put(cm(f"c{i}", "1"))
            await emu._save_soon()  # one save per write: a log line each
        for i in range(0, 30, 3):
            emu.delete("v1", "ConfigMap", f"c{i}", "default")
        emu.put(cm("c1", "changed"))
        before = {k: v for k, v in emu.store.items() if v}
        rv = emu.rv
    assert (tmp_path / (STATE_FILE + ".log")).exists()
    again = KubeApiEmulator(state_dir=tmp_path)
    assert again.rv == rv
    assert {k: v for k, v in again.store.items() if v} == before
