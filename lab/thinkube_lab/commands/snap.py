"""`snap` on a simulated node: list, install, remove, info (https://snapcraft.io/docs).

Only the store snaps the lab knows can be installed (MicroK8s, on its 1.2x/1.3x tracks);
installing takes simulated time and needs root, as on Ubuntu.
"""

from __future__ import annotations

import re

from ..shell import Ctx
from .microk8s import SERVICES, installed, kubelite_start, kubelite_stop, refreshed, removed, service_active
from .table import program

#: What the simulated store offers: track -> (version, revision).
MICROK8S_TRACKS: dict[str, tuple[str, str]] = {
    "1.30": ("v1.30.14", "7964"),
    "1.31": ("v1.31.10", "8084"),
    "1.32": ("v1.32.6", "8148"),
    "1.33": ("v1.33.3", "8205"),
    "1.34": ("v1.34.0", "8312"),
    "latest": ("v1.33.3", "8205"),
}
MICROK8S_SIZE = 176_000_000

#: Snaps every Ubuntu 24.04 server has before anything is installed.
BASE_SNAPS: dict[str, dict[str, str]] = {
    "core22": {
        "name": "core22",
        "version": "20250408",
        "rev": "1908",
        "channel": "latest/stable",
        "publisher": "canonical**",
        "notes": "base",
        "size": "77000000",
    },
    "lxd": {
        "name": "lxd",
        "version": "5.21.3-c5ae129",
        "rev": "33110",
        "channel": "5.21/stable/…",
        "publisher": "canonical**",
        "notes": "-",
        "size": "96000000",
    },
    "snapd": {
        "name": "snapd",
        "version": "2.68.4",
        "rev": "24505",
        "channel": "latest/stable",
        "publisher": "canonical**",
        "notes": "snapd",
        "size": "46000000",
    },
}


def seed_snaps(node) -> None:
    for name, info in BASE_SNAPS.items():
        node.snaps.setdefault(name, dict(info))


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() + "\n" for r in rows)


@program("/usr/bin/snap")
async def snap(ctx: Ctx, argv: list[str]) -> int:
    if len(argv) < 2:
        ctx.out("The snap command lets you install, configure, refresh and remove snaps.\n")
        return 0
    sub, args = argv[1], argv[2:]
    if sub == "list":
        return await _list(ctx, args)
    if sub == "install":
        return await _install(ctx, args)
    if sub == "remove":
        return await _remove(ctx, args)
    if sub == "info":
        return await _info(ctx, args)
    if sub == "refresh":
        return await _refresh(ctx, args)
    if sub in ("start", "stop", "restart"):
        return await _service_action(ctx, sub, args)
    if sub == "services":
        return await _services(ctx, args)
    if sub in ("revert", "set", "get", "connect", "alias"):
        ctx.err(
            f"thinkube-lab: 'snap {sub}' is not simulated (the lab simulates snap list, install, refresh, "
            "remove, info, services, start, stop, restart)"
        )
        return 1
    ctx.err(f"error: unknown command \"{sub}\", see 'snap help'.")
    return 1


def _service_targets(ctx: Ctx, names: list[str]) -> list[tuple[str, str]] | None:
    """(snap, service) pairs for `snap start/stop/restart/services` arguments, or None after an error."""

    out: list[tuple[str, str]] = []
    for name in names:
        snap_name, _, app = name.partition(".")
        if snap_name not in ctx.node.snaps:
            ctx.err(f'error: snap "{snap_name}" not found')
            return None
        if snap_name != "microk8s":
            ctx.err(f'error: thinkube-lab: the services of snap "{snap_name}" are not simulated')
            return None
        if app and app not in SERVICES:
            ctx.err(f'error: snap "{snap_name}" has no service "{app}"')
            return None
        out += [(snap_name, a) for a in ([app] if app else SERVICES)]
    return out


async def _service_action(ctx: Ctx, action: str, args: list[str]) -> int:
    """`snap start|stop|restart [--reload|--enable|--disable|--no-wait] SNAP[.APP]...` (needs root).

    Only kubelite matters to the lab: stopping it on the control node takes the Kube API
    emulator away (connections refused); starting it brings the API back after
    DURATIONS["kubelite-start"] -- `snap` itself returns at once, as systemd does for kubelite."""
    flags = {"restart": ("--reload",), "start": ("--enable",), "stop": ("--disable",)}[action] + ("--no-wait",)
    names = []
    for a in args:
        if a in flags:
            continue
        if a.startswith("-"):
            ctx.err(f"error: unknown flag `{a.lstrip('-')}'")
            return 1
        names.append(a)
    if not names:
        ctx.err("error: the required argument `<service> (at least 1 argument)` was not provided")
        return 1
    if not ctx.is_root:
        ctx.err("error: access denied (try with sudo)")
        return 1
    targets = _service_targets(ctx, names)
    if targets is None:
        return 1

    if any(app == "daemon-kubelite" for _snap, app in targets):
        if action in ("stop", "restart"):
            await kubelite_stop(ctx)
        if action in ("start", "restart"):
            await kubelite_start(ctx)
    ctx.node.counters[f"snap-{action}:" + ",".join(sorted(names))] += 1
    ctx.out({"start": "Started.", "stop": "Stopped.", "restart": "Restarted."}[action] + "\n")
    return 0


async def _services(ctx: Ctx, args: list[str]) -> int:

    names = [a for a in args if not a.startswith("-")] or (["microk8s"] if "microk8s" in ctx.node.snaps else [])
    if not names:
        ctx.out("There are no services provided by installed snaps.\n")
        return 0
    targets = _service_targets(ctx, names)
    if targets is None:
        return 1
    rows = [["Service", "Startup", "Current", "Notes"]]
    for snap_name, app in targets:
        enabled = app not in ("daemon-etcd", "daemon-flanneld")
        rows.append(
            [
                f"{snap_name}.{app}",
                "enabled" if enabled else "disabled",
                "active" if service_active(ctx.node, app) else "inactive",
                "-",
            ]
        )
    ctx.out(_table(rows))
    return 0


async def _list(ctx: Ctx, args: list[str]) -> int:
    names = [a for a in args if not a.startswith("-")]
    node = ctx.node
    rows = [["Name", "Version", "Rev", "Tracking", "Publisher", "Notes"]]
    for name in sorted(node.snaps):
        if names and name not in names:
            continue
        s = node.snaps[name]
        rows.append([name, s["version"], s["rev"], s["channel"], s["publisher"], s["notes"]])
    if len(rows) == 1:
        ctx.err("error: no matching snaps installed" if names else "No snaps are installed yet.")
        return 1 if names else 0
    ctx.out(_table(rows))
    return 0


async def _install(ctx: Ctx, args: list[str]) -> int:
    classic = False
    channel = "latest/stable"
    names: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--classic":
            classic = True
        elif a.startswith("--channel="):
            channel = a.split("=", 1)[1]
        elif a == "--channel":
            channel = next(it, "")
        elif a in ("--stable", "--edge", "--beta", "--candidate"):
            channel = f"latest/{a[2:]}"
        elif a.startswith("-"):
            ctx.err(f"error: unknown flag `{a.lstrip('-')}'")
            return 1
        else:
            names.append(a)
    if not names:
        ctx.err("error: the required argument `<snap> (at least 1 argument)` was not provided")
        return 1
    node = ctx.node
    status = 0
    for name in names:
        if name in node.snaps:
            ctx.out(f"snap \"{name}\" is already installed, see 'snap help refresh'\n")
            continue
        if not ctx.is_root:
            ctx.err("error: access denied (try with sudo)")
            return 1
        if name != "microk8s":
            ctx.err(f'error: snap "{name}" not found (the thinkube lab\'s simulated store has only microk8s)')
            status = 1
            continue
        if "/" not in channel:
            channel = f"{channel}/stable" if re.fullmatch(r"\d+\.\d+|latest", channel) else f"latest/{channel}"
        track, _, risk = channel.partition("/")
        if track not in MICROK8S_TRACKS or risk.split("/")[0] not in ("stable", "candidate", "beta", "edge"):
            tracks = ", ".join(t for t in MICROK8S_TRACKS if t != "latest")
            ctx.err(
                f'error: requested a non-existing branch on {channel} for snap "microk8s": {track}\n'
                f"       (the lab's simulated store has the tracks {tracks})"
            )
            return 1
        if not classic:
            ctx.err(
                'error: This revision of snap "microk8s" was published using classic confinement and thus may\n'
                "       perform arbitrary system changes outside of the security sandbox that snaps are usually\n"
                "       confined to, which may put your system at risk.\n\n"
                "       If you understand and want to proceed repeat the command including --classic."
            )
            return 1
        version, rev = MICROK8S_TRACKS[track]
        await ctx.sleep("snap-install")

        node.snaps[name] = {
            "name": name,
            "version": version,
            "rev": rev,
            "channel": channel,
            "publisher": "canonical**",
            "notes": "classic",
            "size": str(MICROK8S_SIZE),
        }
        node.counters[f"snap-install:{name}"] += 1
        await installed(ctx, channel, version, rev)
        ctx.out(f"{name} ({channel}) {version} from Canonical** installed\n")
    return status


async def _refresh(ctx: Ctx, args: list[str]) -> int:
    """`snap refresh microk8s --channel=TRACK/RISK`: the node runs the new track's MicroK8s (its
    kubelet too); the lab records it, and whether the node was cordoned then (lab.refreshed)."""
    channel = next((a.split("=", 1)[1] for a in args if a.startswith("--channel=")), None)
    names = [a for a in args if not a.startswith("-")]
    node = ctx.node
    if names != ["microk8s"] or channel is None:
        ctx.err("thinkube-lab: only `snap refresh microk8s --channel=TRACK/RISK` is simulated")
        return 1
    if "microk8s" not in node.snaps:
        ctx.err('error: snap "microk8s" is not installed')
        return 1
    if not ctx.is_root:
        ctx.err("error: access denied (try with sudo)")
        return 1
    track = channel.partition("/")[0]
    if track not in MICROK8S_TRACKS:
        ctx.err(f'error: requested a non-existing branch on {channel} for snap "microk8s": {track}')
        return 1
    if node.snaps["microk8s"]["channel"] == channel:
        ctx.err('snap "microk8s" has no updates available')
        return 0
    version, rev = MICROK8S_TRACKS[track]
    await ctx.sleep("snap-install")
    node.snaps["microk8s"].update(version=version, rev=rev, channel=channel)
    refreshed(ctx, channel, version, rev)
    ctx.out(f"microk8s ({channel}) {version} from Canonical** refreshed\n")
    return 0


async def _remove(ctx: Ctx, args: list[str]) -> int:
    node = ctx.node
    for name in (a for a in args if not a.startswith("-")):
        if name not in node.snaps:
            ctx.err(f'snap "{name}" is not installed')
            continue
        if not ctx.is_root:
            ctx.err("error: access denied (try with sudo)")
            return 1
        if name in BASE_SNAPS:
            ctx.err(f'error: cannot remove "{name}": the thinkube lab does not simulate removing base snaps')
            return 1
        await ctx.sleep("snap-remove")
        del node.snaps[name]
        node.counters[f"snap-remove:{name}"] += 1
        if name == "microk8s":
            removed(ctx)
        ctx.out(f"{name} removed\n")
    return 0


async def _info(ctx: Ctx, args: list[str]) -> int:
    names = [a for a in args if not a.startswith("-")]
    if names != ["microk8s"] and not all(n in ctx.node.snaps for n in names):
        ctx.err(f'error: no snap found for "{names[0] if names else ""}"')
        return 1
    name = names[0]
    if name != "microk8s":
        s = ctx.node.snaps[name]
        ctx.out(f"name:      {name}\npublisher: Canonical**\ninstalled: {s['version']} ({s['rev']})\n")
        return 0
    lines = [
        "name:      microk8s",
        "summary:   Kubernetes for workstations and appliances",
        "publisher: Canonical**",
        "store-url: https://snapcraft.io/microk8s",
        "contact:   https://github.com/canonical/microk8s/issues",
        "license:   Apache-2.0",
        "description: |",
        "  MicroK8s is a small, fast, secure, certified Kubernetes distribution.",
        "  (This is the thinkube lab's simulated store entry.)",
        "commands:",
        "  - microk8s.add-node",
        "  - microk8s.config",
        "  - microk8s.enable",
        "  - microk8s.helm3",
        "  - microk8s.join",
        "  - microk8s.kubectl",
        "  - microk8s.status",
        "  - microk8s",
        "snap-id:      EaXqgt1lyCaxKaQCU349mlodBkDCXRcg",
    ]
    s = ctx.node.snaps.get("microk8s")
    if s:
        lines.append(f"tracking:     {s['channel']}")
    lines.append("channels:")
    for track, (version, rev) in MICROK8S_TRACKS.items():
        lines.append(f"  {track + '/stable:':<16} {version:<9} 2025-07-15 ({rev}) 176MB classic")
    if s:
        lines.append(f"installed:      {s['version']:<9}            ({s['rev']}) 176MB classic")
    ctx.out("\n".join(lines) + "\n")
    return 0
