"""`Secrets.mask`: every occurrence of every secret is blanked out, however secrets overlap,
contain one another or arrive (registered after masking began), at any length and position."""

import random
import string

from thinkube_tui.secrets import MASK, MIN_MASKED_LENGTH, Secrets

KUBECONFIG = """apiVersion: v1
clusters:
- cluster: {server: 'https://10.42.0.11:16443'}
  name: microk8s-cluster
users:
- name: admin
  user:
    token: kubeconfig-admin-token-0123456789
    client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJna3Foa2lHOXcwQkFRRUZBQVND
"""


def covered(text: str, secrets: set[str]) -> list[bool]:
    """Which characters of `text` lie inside some occurrence of some secret (brute force)."""
    inside = [False] * len(text)
    for value in secrets:
        start = text.find(value)
        while start != -1:
            inside[start : start + len(value)] = [True] * len(value)
            start = text.find(value, start + 1)
    return inside


def expected(text: str, secrets: set[str]) -> str:
    """Each stretch of overlapping occurrences replaced by one MASK (touching ones stay apart)."""
    stretches: list[list[int]] = []
    for value in secrets:
        start = text.find(value)
        while start != -1:
            stretches.append([start, start + len(value)])
            start = text.find(value, start + 1)
    stretches.sort()
    merged: list[list[int]] = []
    for start, end in stretches:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, done = "", 0
    for start, end in merged:
        out += text[done:start] + MASK
        done = end
    return out + text[done:]


def test_overlapping_secrets_are_masked_as_one_stretch():
    s = Secrets(environ={})
    s.register("abcdef12")
    s.register("ef12ghij")
    # The old single regex masked "abcdef12" and left "ghij" of the second secret readable.
    assert s.mask("x abcdef12ghij y") == f"x {MASK} y"
    assert s.mask("x ef12ghij abcdef12 y") == f"x {MASK} {MASK} y"


def test_a_secret_that_overlaps_itself_is_masked_whole():
    s = Secrets(environ={})
    s.register("abab")
    assert s.mask("ababab") == MASK


def test_a_secret_that_is_a_prefix_of_another():
    s = Secrets(environ={})
    s.register("token-123456")
    s.register("token-1234567890")
    assert s.mask("join token-1234567890 now") == f"join {MASK} now"
    assert s.mask("join token-123456 now") == f"join {MASK} now"
    assert s.mask("token-1234567890token-123456") == f"{MASK}{MASK}"  # touching: two masks


def test_a_secret_inside_a_longer_one_masks_the_longer_whole():
    s = Secrets(environ={})
    s.register("inner-secret")
    s.register("prefix-inner-secret-suffix" * 3)
    assert s.mask("[" + "prefix-inner-secret-suffix" * 3 + "]") == f"[{MASK}]"


def test_secrets_registered_after_masking_began_are_masked_from_then_on():
    s = Secrets(environ={})
    assert s.mask("token: late-secret-value") == "token: late-secret-value"
    s.register("first-secret-value")
    assert s.mask("a first-secret-value b late-secret-value") == f"a {MASK} b late-secret-value"
    s.register("late-secret-value")
    assert s.mask("a first-secret-value b late-secret-value") == f"a {MASK} b {MASK}"


def test_short_values_are_not_masked_and_texts_shorter_than_a_secret_pass():
    s = Secrets(environ={})
    s.register("abc")  # shorter than MIN_MASKED_LENGTH: would blank ordinary words
    s.register("abcd")
    assert MIN_MASKED_LENGTH == 4
    assert s.mask("abc") == "abc"
    assert s.mask("abcd") == MASK
    assert s.mask("") == ""


def test_multi_line_values_are_masked():
    s = Secrets(environ={})
    key = "-----BEGIN KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASC\nBKgwggSkAgEAAoIBAQ\n-----END KEY-----"
    s.register(key)
    assert s.mask(f"values:\n{key}\nnext") == f"values:\n{MASK}\nnext"


def test_kubeconfig_credentials_are_masked():
    s = Secrets(environ={})
    s.register_kubeconfig(KUBECONFIG)
    masked = s.mask(KUBECONFIG)
    assert "kubeconfig-admin-token-0123456789" not in masked
    assert "LS0tLS1CRUdJTiBQ" not in masked
    assert "https://10.42.0.11:16443" in masked


def test_every_occurrence_at_every_length_and_position_matches_brute_force():
    """Secrets of 4..300 characters (every length band and stride), over a small alphabet so
    that they overlap, repeat and contain one another; texts hold them at every offset,
    including the very start and end, and are masked after each registration."""
    rng = random.Random(15)
    alphabet = "ab"  # few letters: many overlaps and repeated pieces
    s = Secrets(environ={})
    registered: set[str] = set()
    for _ in range(120):
        length = rng.choice([4, 5, 7, 8, 12, 15, 16, 31, 32, 33, 63, 64, 65, 130, 300])
        value = "".join(rng.choice(alphabet + string.digits[: rng.randint(0, 2)]) for _ in range(length))
        s.register(value)
        registered.add(value)
        pool = sorted(registered)
        for _ in range(5):
            parts = [
                rng.choice(pool) if rng.random() < 0.5 else "".join(rng.choices("abxyz\n", k=rng.randint(0, 9)))
                for _ in range(rng.randint(1, 5))
            ]
            text = "".join(parts)
            masked = s.mask(text)
            assert masked == expected(text, registered), (text, masked)
            assert all(v not in masked for v in registered if len(v) >= MIN_MASKED_LENGTH)
            assert not any(covered(text, registered)) or MASK in masked
