"""The installers package: component modules found by id, helpers apart in `support/`, and the
helpers every component uses (one `wait_crds`)."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import thinkube_tui.installers as installers
import thinkube_tui.installers.support as support
from thinkube_tui.catalog import load_catalog
from thinkube_tui.dryrun import Transcript, assumed_facts
from thinkube_tui.engine import EngineSettings, InstallError, Steps
from thinkube_tui.events import EventBus, LineBatcher
from thinkube_tui.installers.base import Cluster, InstallContext
from thinkube_tui.installers.support.objects import wait_crds
from thinkube_tui.journal import Journal
from thinkube_tui.secrets import Secrets
from thinkube_tui.spec import load_answers

from .fakes import FakeKube

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Modules beside the components that are not components: the contract every installer gets.
NOT_COMPONENTS = {"base", "support"}


def test_every_catalog_component_has_its_installer_module():
    catalog = load_catalog()
    registry = installers.registry()
    assert sorted(registry) == sorted(catalog.ids)
    for cid, install in registry.items():
        assert install.__module__ == installers.module_name(cid)


def test_the_components_folder_holds_components_only():
    ids = {cid.replace("-", "_") for cid in load_catalog().ids}
    modules = {m.name for m in pkgutil.iter_modules(installers.__path__)}
    assert modules - ids == NOT_COMPONENTS
    helpers = {m.name for m in pkgutil.iter_modules(support.__path__)}
    assert {"objects", "postgres", "minio", "keycloak"} <= helpers


def crd(name: str, established: bool) -> dict:
    status = "True" if established else "False"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Established", "status": status}]},
    }


def context(kube: FakeKube) -> InstallContext:
    spec = load_answers(EXAMPLES / "answers-minimal.yaml")
    cluster = Cluster(spec=spec, catalog=load_catalog(), nodes={}, facts=assumed_facts(spec), secrets=Secrets())
    cluster._kube = kube  # type: ignore[assignment]
    bus = EventBus()
    config = spec.components["cert-manager"].config
    steps = Steps("cert-manager", config, Journal(None), bus, LineBatcher(bus, 0.0), EngineSettings(step_timeout_s=60))
    return InstallContext(steps, cluster)


async def test_wait_crds_waits_for_each_established_crd():
    kube = FakeKube(Transcript())
    kube.put(crd("a.example.io", True))
    kube.put(crd("b.example.io", True))
    await wait_crds(context(kube), ["a.example.io", "b.example.io"])
    assert kube.waits == ["CRD a.example.io", "CRD b.example.io"]


async def test_wait_crds_names_the_crd_that_is_not_established():
    kube = FakeKube(Transcript(), missing_is_error=True)
    kube.put(crd("a.example.io", True))
    kube.put(crd("b.example.io", False))
    with pytest.raises(InstallError, match=r"CRD b\.example\.io.*the chart installs it"):
        await wait_crds(context(kube), ["a.example.io", "b.example.io"], hint="the chart installs it")
