"""Render docs/components.md from the catalog and the components' config schemas.

The document is generated, never edited by hand; a test keeps it equal to
`components_markdown(load_catalog())`. Regenerate with:

    .venv/bin/python -m thinkube_tui.catalog_doc > docs/components.md
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from thinkube_tui.catalog import Catalog, Component, Install, load_catalog

REGENERATE = ".venv/bin/python -m thinkube_tui.catalog_doc > docs/components.md"


def detail_sections(docs_dir: Path) -> dict[str, tuple[str, str]]:
    """component id -> (file under docs/, section title) of the page that says, for that component,
    what is installed, how it is verified and what the operator gets (docs/components/*.md)."""
    found: dict[str, tuple[str, str]] = {}
    for page in sorted((docs_dir / "components").glob("*.md")):
        for line in page.read_text().splitlines():
            if line.startswith("## "):
                title = line[3:].strip()
                for cid in re.findall(r"`([a-z0-9-]+)`", title):  # "## Title (`component-id`)"
                    found.setdefault(cid, (f"components/{page.name}", title))
    return found


def components_markdown(catalog: Catalog, details: Mapping[str, tuple[str, str]] | None = None) -> str:
    """The whole components document as Markdown (ends with a newline)."""
    lines: list[str] = [
        "# Components",
        "",
        f"<!-- Generated from thinkube_tui/catalog.yaml and thinkube_tui/schemas/components/. "
        f"Do not edit; regenerate with: {REGENERATE} -->",
        "",
        "Every component thinkube-tui can install, by deployment group. *Requires* are installed first and "
        "pulled into the plan when the component is selected; *after* only orders components that are both "
        "in the plan. Hostnames use `{domain}`, the cluster domain. Secret settings are never written inline: "
        "they are references into the secrets file, and are generated when left out.",
        "",
    ]
    for group in catalog.groups:
        members = catalog.in_group(group.id)
        if not members:
            continue
        lines += [f"## {group.id} {group.title}", ""]
        for component in members:
            lines += _component_section(catalog, component, (details or {}).get(component.id))
    return "\n".join(lines).rstrip("\n") + "\n"


def _component_section(catalog: Catalog, c: Component, detail: tuple[str, str] | None) -> list[str]:
    lines = [f"### {c.title} (`{c.id}`)", "", c.description, ""]
    facts = [
        ("Tier", _tier(c)),
        ("Requires", _ids(c.requires)),
        ("After", _ids(c.after)),
        ("Namespace", f"`{c.namespace}`"),
        ("Install", _install(c.install)),
        ("Hostnames", ", ".join(f"`{h}`" for h in c.hostnames) or "—"),
        ("Single sign-on", "yes (OIDC client in the Keycloak realm)" if c.sso else "no"),
        ("Typical install time", _duration(c.estimate_s)),
    ]
    lines += [f"- **{name}:** {value}" for name, value in facts]
    if c.install.note:
        lines.append(f"- **Note:** {_escape(c.install.note)}")
    if detail is not None:
        page, section = detail
        lines.append(
            f"- **What is installed, how it is verified, what you get:** [{page}]({page}), section “{section}”"
        )
    lines.append("")
    lines += _config_table(catalog.schema(c.id))
    return lines


def _tier(c: Component) -> str:
    if c.core_when:
        return f"core when `{c.core_when}`, otherwise optional ({'on' if c.default else 'off'} by default)"
    if c.tier == "core":
        return "core (always installed)"
    return f"optional, {'on' if c.default else 'off'} by default"


def _ids(ids: tuple[str, ...]) -> str:
    return ", ".join(f"`{i}`" for i in ids) or "—"


def _install(install: Install) -> str:
    if install.method == "helm":
        return f"Helm chart `{install.chart}` {install.version} from <{install.repo}>"
    if install.method == "addon":
        text = "MicroK8s addon " + ", ".join(f"`{a}`" for a in install.addons)
    elif install.method == "snap":
        text = "MicroK8s snap" + (
            " with addons " + ", ".join(f"`{a}`" for a in install.addons) if install.addons else ""
        )
    elif install.method == "workflow":
        text = "Argo Workflows workflow and Argo CD Application"
    else:
        text = "Kubernetes manifests"
    if install.source:
        text += f": {_escape(install.source)}"
    return text


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    if minutes and rest:
        return f"about {minutes} min {rest} s"
    return f"about {minutes} min" if minutes else f"about {rest} s"


def _config_table(schema: Mapping[str, Any]) -> list[str]:
    rows = list(_rows(schema))
    if not rows:
        return ["No configuration settings.", ""]
    lines = ["| Setting | Type | Default | Description |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {kind} | {default} | {description} |" for name, kind, default, description in rows]
    lines.append("")
    return lines


def _rows(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield path, _type(prop), _default(prop), _describe(prop)
        if prop.get("type") == "object" and "properties" in prop:
            yield from _rows(prop, prefix=f"{path}.")
        items = prop.get("items")
        if prop.get("type") == "array" and isinstance(items, Mapping) and "properties" in items:
            yield from _rows(items, prefix=f"{path}[].")


def _type(prop: Mapping[str, Any]) -> str:
    if prop.get("$ref", "").endswith("/secretRef"):
        return "secret"
    kind = str(prop.get("type", "any"))
    if kind == "array":
        items = prop.get("items", {})
        inner = "object" if "properties" in items else str(items.get("type", "any"))
        return f"list of {inner}"
    return kind


def _default(prop: Mapping[str, Any]) -> str:
    if "default" in prop:
        return f"`{_escape(json.dumps(prop['default'], ensure_ascii=False))}`"
    if prop.get("$ref", "").endswith("/secretRef"):
        return "generated"
    return "—"


def _describe(prop: Mapping[str, Any]) -> str:
    text = str(prop.get("description", ""))
    details = []
    enum = prop.get("enum") or prop.get("items", {}).get("enum")
    if enum:
        details.append("one of " + ", ".join(f"`{v}`" for v in enum))
    if "minimum" in prop and "maximum" in prop:
        details.append(f"{prop['minimum']}–{prop['maximum']}")
    pattern = prop.get("pattern")
    if pattern and not enum and len(pattern) <= 40:  # long patterns (IPv4) are said in the description
        details.append(f"pattern `{pattern}`")
    if prop.get("format"):
        details.append(str(prop["format"]))
    if details:
        text += " (" + "; ".join(details) + ")"
    return _escape(text)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs"
    sys.stdout.write(components_markdown(load_catalog(), detail_sections(docs)))


if __name__ == "__main__":
    main()
