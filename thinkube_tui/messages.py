"""The one table of human messages for answers problems, shared by `validate` and the wizard's forms.

A JSON Schema error says which keyword failed (`pattern`, `minLength`, `enum`...); the operator
needs to read what is expected, with an example, never the regular expression. Every pattern
the schemas use has an entry in `PATTERNS` (a test keeps it so), every format in `FORMATS`.
Values that are secrets are never repeated: callers say `secret=True` and get "the value".
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


@dataclass(frozen=True)
class Expected:
    """What a pattern or format stands for, in words, and a value that fits."""

    what: str
    example: str

    def __str__(self) -> str:
        return f"{self.what}, e.g. {self.example}"


_DNS_LABEL = Expected(
    "a DNS label: up to 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
    "tk-control",
)
_IPV4 = Expected("an IPv4 address", "192.168.1.10")
_QUANTITY = Expected("a size with a binary unit (Ki, Mi, Gi or Ti)", "10Gi")

# Kubernetes' own rules for label keys, label values and taints (as the API server checks them).
_DNS_PREFIX = r"((?=[^/]{1,253}/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
LABEL_KEY = rf"^{_DNS_PREFIX}(?=[^/]{{1,63}}$){_NAME}$"
LABEL_VALUE = rf"^(?=.{{0,63}}$){_VALUE}$"
_EFFECT = "(NoSchedule|PreferNoSchedule|NoExecute)"
TAINT = rf"^{_DNS_PREFIX}(?=[^/=:]{{1,63}}[=:]){_NAME}(=(?=[^=:]{{0,63}}:){_VALUE})?:{_EFFECT}$"

# Named patterns: the regular expression exactly as the schemas write it -> what it means.
PATTERNS: dict[str, Expected] = {
    r"^[A-Za-z0-9_.-]+/[^#\s]+#[^#\s]+$": Expected(
        "a key in Vault's KV engine: MOUNT/PATH#KEY, no spaces", "secret/team/qdrant#api-key"
    ),
    r"^[A-Za-z_][A-Za-z0-9_]*$": Expected(
        "an environment variable name: letters, digits and '_', not starting with a digit", "THINKUBE_SUDO_PASSWORD"
    ),
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$": Expected(
        "a DNS name in lower case: labels of letters, digits and '-' joined by dots", "thinkube.lan"
    ),
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$": _DNS_LABEL,
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": Expected("an e-mail address", "admin@thinkube.lan"),
    r"^[0-9]+\.[0-9]+(-[a-z]+)?/(stable|candidate|beta|edge)$": Expected(
        "a MicroK8s snap channel VERSION/RISK (risk: stable, candidate, beta or edge)", "1.33/stable"
    ),
    r"^[0-9.]+-[0-9.]+$|^[0-9.]+/[0-9]{1,2}$": Expected(
        "an address range START-END or a CIDR", "192.168.1.200-192.168.1.220"
    ),
    r"^[a-z_][a-z0-9_-]*[$]?$": Expected(
        "a Linux user name: lower-case letters, digits, '_' and '-', starting with a letter or '_'", "thinkube"
    ),
    r"^[A-Za-z0-9.:%_-]+$": Expected("a host name or IP address, without spaces or brackets", "192.168.1.10"),
    r"^SHA256:[A-Za-z0-9+/]{43}$": Expected(
        "an SSH host key fingerprint as `ssh-keygen -lf` prints it", "SHA256:" + "A" * 43
    ),
    LABEL_KEY: Expected(
        "a Kubernetes label key: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit",
        "example.com/gpu-type",
    ),
    LABEL_VALUE: Expected(
        "a Kubernetes label value: empty, or up to 63 letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit",
        "a100",
    ),
    TAINT: Expected(
        "a Kubernetes taint KEY[=VALUE]:EFFECT (key and value as for labels; "
        "effect NoSchedule, PreferNoSchedule or NoExecute)",
        "nvidia.com/gpu=true:NoSchedule",
    ),
    r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$": Expected(
        "a Kubernetes name: lower-case letters, digits and '-', starting and ending with a letter or digit",
        "thinkube-data",
    ),
    r"^[a-zA-Z0-9._-]+$": Expected("a user name of letters, digits, '.', '_' and '-'", "admin"),
    r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti)$": _QUANTITY,
    r"^[^:\s]+:[0-9]{1,5}$": Expected("HOST:PORT", "1.1.1.1:53"),
    r"^[A-Za-z0-9-]+\.[A-Za-z0-9-]+$": Expected("a VS Code extension id PUBLISHER.NAME", "ms-python.python"),
    r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$": Expected("a DNS domain in lower case", "cluster.local"),
    r"^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$": _IPV4,
    r"^[a-z0-9_-]+/[a-z0-9_-]+$": Expected("USER/INDEX in lower case", "root/pypi"),
    r"^[0-9]+(\.[0-9]+){1,2}$": Expected("a version number", "580.95.05"),
    r"^[0-9]+[kmg]?$": Expected("a size in bytes, optionally with k, m or g", "100m"),
    r"^[a-z0-9._-]+$": Expected("lower-case letters, digits, '.', '_' and '-'", "thinkube"),
    r"^[0-9]+(s|m)$": Expected("a duration in seconds (s) or minutes (m)", "30s"),
    r"^[0-9]+(h|d|w|y)$": Expected("a duration in hours, days, weeks or years (h, d, w, y)", "30d"),
    r"^[a-z0-9][a-z0-9-]*(:.+)?$": Expected("a MicroK8s addon name, optionally with :ARGUMENTS", "hostpath-storage"),
    r"^[a-zA-Z0-9._-]{3,}$": Expected("at least 3 letters, digits, '.', '_' or '-'", "minioadmin"),
    r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$": Expected(
        "an S3 bucket name: 3 to 63 lower-case letters, digits, '.' and '-'", "mlflow-artifacts"
    ),
    r"^[a-z_][a-z0-9_]*$": Expected("a database name: lower-case letters, digits and '_'", "mlflow"),
    r"^[0-9]+[mg]$": Expected("a Java heap size with m or g", "1g"),
}

FORMATS: dict[str, Expected] = {
    "ipv4": _IPV4,
    "email": Expected("an e-mail address", "admin@thinkube.lan"),
    "uri": Expected("a URL", "https://github.com/thinkube/thinkube"),
}

_BOUNDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "more than",
    "exclusiveMaximum": "less than",
}
_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


# Problems a keyword alone does not explain (the schema reader knows when they apply).
SECRET_INLINE = "secrets are never written inline: use {env: VARIABLE} or {secret: KEY} (a key of the secrets file)"
SECRET_ONE_SOURCE = "give exactly one of env or secret"
CORE_ALWAYS_ON = "this is a core component and cannot be switched off"


MISSING_REQUIRED = "missing required key"


def missing_required(key: str) -> str:
    return f"{MISSING_REQUIRED} {key!r}"


def unknown_key(key: str, known: Sequence[str]) -> str:
    """A key the schema does not know, with the nearest known one (or all of them)."""
    hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else f"; known keys: {', '.join(known)}"
    return f"unknown key {key!r}{unusual_characters(key)}{suggestion}"


def expected_type(wanted: object, value: object) -> str:
    """`expected an integer, got a string`: `wanted` is a schema's `type` (a name or a list)."""
    names = wanted if isinstance(wanted, list) else [wanted]
    return f"expected {' or '.join(_TYPES.get(str(a), str(a)) for a in names)}, got {type_name(value)}"


def shown(value: object, *, secret: bool = False, limit: int = 60) -> str:
    """A value as a message quotes it: never a secret, short, with look-alike characters named."""
    if secret:
        return "the value"
    text = repr(value)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text + unusual_characters(value) if isinstance(value, str) else text


def unusual_characters(text: str) -> str:
    """` (U+0441 CYRILLIC SMALL LETTER ES at position 1)` for non-ASCII letters in `text`, else ''.

    A key or name typed with a look-alike letter reads exactly like the right one; saying
    the code point is the only way the operator can see what is wrong."""
    found = [(i, ch) for i, ch in enumerate(text) if not ch.isascii()]
    if not found:
        return ""
    parts = [f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED CHARACTER')} at position {i}" for i, ch in found[:3]]
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return f" ({', '.join(parts)}{more})"


def show_choice(value: object) -> str:
    """An enum choice as it is written in YAML: true, false, auto."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def expected_pattern(pattern: str, schema: Mapping[str, Any] | None = None) -> str:
    """What a pattern asks for, in words; a pattern missing from the table falls back to the
    property's description (never to the regular expression)."""
    if pattern in PATTERNS:
        return str(PATTERNS[pattern])
    description = str((schema or {}).get("description", "")).strip().rstrip(".")
    return description or "a value of another form (see the schema: thinkube-tui schema)"


def _edge_space(value: object) -> str:
    if isinstance(value, str) and value != value.strip():
        return " (it starts or ends with a space or a line break)"
    return ""


def schema_error(error: ValidationError, *, secret: bool = False) -> str:
    """One jsonschema `ValidationError` in the operator's words (by keyword; the schema reader
    handles what a keyword alone does not say: secrets, unknown keys, core components)."""
    kind, value = error.validator, error.instance
    arg: Any = error.validator_value  # the keyword's argument, as the schema wrote it
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    what = shown(value, secret=secret)
    is_key = "propertyNames" in error.relative_schema_path
    subject = f"key {what}" if is_key else what
    if kind == "type":
        return expected_type(arg, value)
    if kind == "required" and isinstance(value, Mapping):
        # One error per missing key; its own key is the one its message names.
        missing = next((k for k in arg if k not in value and repr(k) in error.message), arg[0])
        return missing_required(missing)
    if kind == "enum":
        choices = [show_choice(a) for a in arg]
        listed = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        return f"expected {listed}; got {what}"
    if kind == "const":
        return f"must be {show_choice(arg)}"
    if kind == "pattern":
        return f"{subject} has the wrong form: expected {expected_pattern(arg, schema)}{_edge_space(value)}"
    if kind == "format":
        expected = FORMATS.get(arg)
        return f"{what} is not {expected}" if expected else f"{what} is not a valid {arg}"
    if kind in _BOUNDS:
        return f"{what} must be {_BOUNDS[kind]} {arg}"
    if kind == "minLength":
        return "must not be empty" if arg == 1 else f"must be at least {arg} characters long"
    if kind == "maxLength":
        length = f" ({subject} has {len(value)})" if isinstance(value, str) and not secret else ""
        return f"must be at most {arg} characters long{length}"
    if kind in ("minItems", "minProperties"):
        noun = "item" if kind == "minItems" else "entry"
        return f"needs at least {arg} {noun}{'s' if arg != 1 else ''}"
    if kind in ("maxItems", "maxProperties"):
        noun = "item" if kind == "maxItems" else "entry"
        return f"takes at most {arg} {noun}{'s' if arg != 1 else ''}"
    if kind == "uniqueItems":
        return "items must be unique"
    if kind == "additionalProperties":
        known = ", ".join(sorted(schema.get("properties", {})))
        return f"unknown key; known keys: {known}"
    return f"invalid value ({kind})"


def type_name(value: object) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


# ---------------------------------------------------------------- passwords typed by the operator

# Below this a typed password is called weak (a warning: the install still goes ahead).
WEAK_PASSWORD_BELOW = 12
_CLASSES = {
    "lower": ("a lower-case letter", str.islower),
    "upper": ("an upper-case letter", str.isupper),
    "digit": ("a digit", str.isdigit),
    "symbol": ("a symbol such as ! or #", lambda ch: not ch.isalnum() and not ch.isspace()),
}
# Keycloak's policy terms that say what a password must hold: length(12), upperCase(1), ...
_POLICY_TERMS = {
    "length": None,
    "lowerCase": "lower",
    "upperCase": "upper",
    "digits": "digit",
    "specialChars": "symbol",
}


@dataclass(frozen=True)
class PasswordRules:
    """What a component demands of a password: a length, character classes, not the user name."""

    who: str = "the component"
    min_length: int = 0
    needs: Mapping[str, int] = field(default_factory=dict)  # class (lower, upper, digit, symbol) -> how many
    not_user: str | None = None


def password_rules(rules: Mapping[str, Any], settings: Mapping[str, object]) -> PasswordRules:
    """A secret's `x-passwordRules` (as the schema writes them) made concrete: `policyFrom` names
    the setting holding a Keycloak password policy (`length(12) and notUsername`), read from `settings`."""
    min_length = int(rules.get("minLength", 0))
    needs = dict.fromkeys(map(str, rules.get("needs", ())), 1)
    policy = str(settings.get(str(rules.get("policyFrom", "")), ""))
    for term, count in re.findall(r"(\w+)\((\d+)\)", policy):
        if term not in _POLICY_TERMS:
            continue
        kind = _POLICY_TERMS[term]
        if kind is None:
            min_length = max(min_length, int(count))
        else:
            needs[kind] = max(needs.get(kind, 0), int(count))
    user = settings.get(str(rules["userFrom"])) if "notUsername" in policy and rules.get("userFrom") else None
    return PasswordRules(
        who=str(rules.get("who", "the component")),
        min_length=min_length,
        needs=needs,
        not_user=None if user is None else str(user),
    )


def password_problem(value: str, rules: PasswordRules) -> str | None:
    """Why the component would refuse `value` (never repeating it), or None."""
    who = rules.who
    if len(value) < rules.min_length:
        return f"{who} refuses passwords shorter than {rules.min_length} characters"
    for kind, count in rules.needs.items():
        words, test = _CLASSES[kind]
        if sum(1 for ch in value if test(ch)) < count:
            amount = words if count == 1 else f"{count} × {words.removeprefix('a ').removeprefix('an ')}"
            return f"{who} refuses passwords without {amount}"
    if rules.not_user and value.lower() == rules.not_user.lower():
        return f"{who} refuses a password equal to the user name"
    return None


def password_warning(value: str) -> str | None:
    """A weak typed password: said before the install, not refused."""
    if len(value) < WEAK_PASSWORD_BELOW:
        length = f"weak: shorter than {WEAK_PASSWORD_BELOW} characters"
        return f"{length}; type a longer one, or leave it empty to have one generated"
    return None
