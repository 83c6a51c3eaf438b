"""Every parser takes any text without raising (unknown output → None + warning)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.discovery.helpers import fixture_text, probe_output, ubuntu_sections
from thinkube_tui import discovery as d
from thinkube_tui import gpu as g

TEXT_PARSERS = [
    d.parse_os_release,
    d.parse_meminfo,
    d.parse_lsblk,
    d.parse_df,
    d.parse_ip_addr,
    d.parse_ip_route,
    d.parse_snap_list,
    g.parse_lspci,
    g.parse_nvidia_smi_csv,
    g.parse_nvidia_smi_xml,
]
PLAIN_PARSERS = [
    d.parse_microk8s_status,
    d.parse_ss_listening,
    d.parse_proc_net_tcp,
    g.parse_nvidia_smi_list,
    g.parse_nvidia_version,
    g.parse_modules,
    d.parse_epoch,
    d.parse_getent,
    d.split_sections,
    g.normalise_pci_address,
    d.normalise_arch,
    d.parse_cpu_model,
]

# Random text, plus text made of the pieces real outputs are made of, so the fuzzer gets
# past the first regex.
ATOMS = st.sampled_from(
    [
        ",",
        ", ",
        "[N/A]",
        "MiB",
        "0x10de",
        "10de:",
        "[0302]",
        "[10de:2330]",
        "0000:3b:00.0",
        "00000000:3B:00.0",
        ":",
        ".",
        "\n",
        "\t",
        " ",
        "{",
        "}",
        "[",
        "]",
        '"',
        "=",
        "<gpu>",
        "</gpu>",
        "<nvidia_smi_log>",
        "</nvidia_smi_log>",
        "<!ENTITY",
        "path /",
        "MemTotal:",
        "kB",
        "LISTEN",
        "0A",
        "- address:",
        "@@ ",
        d.MARKER,
        "rc=0",
        "rc=x",
        "NVRM version:",
        "GPU 0: ",
        "(UUID: ",
        "MIG 1g.10gb Device 0:",
        "nan",
        "inf",
        "-1",
        "99999999999999999999",
        "\x00",
        "é",
        "☃",
    ]
)
GARBLE = st.one_of(st.text(max_size=300), st.lists(st.one_of(ATOMS, st.text(max_size=5)), max_size=60).map("".join))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(GARBLE)
def test_text_parsers_never_raise(text):
    for parser in TEXT_PARSERS:
        warnings: list[str] = []
        parser(text, warnings)
        assert all(isinstance(w, str) for w in warnings)
    for parser in PLAIN_PARSERS:
        parser(text)
    d.parse_int(text, "x", [])


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                *sorted(ubuntu_sections()),
                "lspci",
                "nvidia_smi_csv",
                "nvidia_smi_xml",
                "nvidia_smi_list",
                "nvidia_version",
                "microk8s_status",
                "snap_microk8s",
                "proc_net_tcp",
                "clock_end",
            ]
        ),
        st.tuples(GARBLE, st.integers(-1, 255)),
        max_size=12,
    )
)
def test_whole_probe_parser_never_raises(sections):
    facts = d.parse_probe_output("n", probe_output(sections, complete=False), local_sent=1.0, local_received=2.0)
    assert facts.node == "n"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_truncated_real_outputs_never_raise(data):
    """Real outputs cut anywhere (a dropped connection) still parse or warn."""
    for rel, parser in [
        ("telegraf/a100-sxm4-v12.xml", g.parse_nvidia_smi_xml),
        ("gpud/lspci.nn.a100", g.parse_lspci),
        ("hadoop/nvidia-smi-sample-output.xml", g.parse_nvidia_smi_xml),
    ]:
        text = fixture_text(rel)
        cut = data.draw(st.integers(0, len(text)))
        parser(text[:cut], [])
