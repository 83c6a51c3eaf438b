"""Vault's unseal keys and root token: in the cluster's own state directory, 0600, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

from thinkube_tui.installers.vault import keys_file, save_keys


def test_the_keys_file_is_in_the_clusters_state_directory(tmp_path: Path) -> None:
    assert keys_file(tmp_path / "lab-a") == tmp_path / "lab-a" / "vault-init.json"
    assert keys_file(tmp_path / "lab-a") != keys_file(tmp_path / "lab-b")


def test_keys_are_written_0600_and_an_earlier_file_is_kept_beside_them(tmp_path: Path) -> None:
    path = keys_file(tmp_path / "cluster")
    assert save_keys(path, '{"root_token": "first"}\n') is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = save_keys(path, '{"root_token": "second"}\n')
    assert kept == path.with_name("vault-init.json.old-1")
    assert kept.read_text() == '{"root_token": "first"}\n'
    assert path.read_text() == '{"root_token": "second"}\n'
    assert save_keys(path, "third\n") == path.with_name("vault-init.json.old-2")
    assert path.with_name("vault-init.json.old-1").read_text() == '{"root_token": "first"}\n'


def test_keys_are_never_written_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = keys_file(tmp_path / "cluster")
    path.parent.mkdir(mode=0o700)
    path.symlink_to(victim)
    save_keys(path, "keys\n")
    assert victim.read_text() == "precious\n"
    assert not path.is_symlink() and path.read_text() == "keys\n"


def test_the_wizards_install_keeps_vault_keys_beside_its_own_journal(tmp_path: Path) -> None:
    """The wizard used to hand the installers `<default state>/thinkube`, whatever --state-dir and
    the cluster's name: a second cluster's keys replaced the first one's."""
    from types import SimpleNamespace

    from thinkube_tui.catalog import load_catalog
    from thinkube_tui.events import EventBus
    from thinkube_tui.installers.vault import keys_path
    from thinkube_tui.plan import plan_for
    from thinkube_tui.secrets import Secrets
    from thinkube_tui.spec import parse_answers
    from thinkube_tui.wizard_run import InstallRun

    examples = Path(__file__).resolve().parents[2] / "examples"
    spec = parse_answers((examples / "answers-minimal.yaml").read_text())
    catalog = load_catalog()
    model = SimpleNamespace(secrets=lambda: Secrets({}), catalog=catalog, facts={})
    state = tmp_path / "state" / "lab-a"
    run = InstallRun(
        spec,
        model,  # type: ignore[arg-type]
        plan_for(catalog, {"microk8s-control": "wanted"}),
        {},
        {},
        state_dir=state,
        bus=EventBus(),
        mirror=False,
    )
    try:
        assert run.cluster.state_dir == state
        assert keys_path(SimpleNamespace(cluster=run.cluster)) == state / "vault-init.json"  # type: ignore[arg-type]
    finally:
        run.log.close()
