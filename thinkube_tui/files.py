"""Files the tool writes: atomically, private to their owner, never through a planted symlink.

The state directory holds the journal, logs, answers, secrets and Vault's keys, and a root run
writes there, so it is trusted only as OpenSSH trusts `~/.ssh` (`check_state_dir`): owned by
the running user and writable by nobody else, inside directories nobody else can rename it
out of (root-owned sticky directories such as /tmp excepted). Every file is created with
`O_CREAT|O_EXCL|O_NOFOLLOW` under an unpredictable temporary name, then renamed into place
(a rename replaces a symlink, it never writes through it); files opened for appending (logs)
refuse a symlink and anything that is not a regular file of ours.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import stat
import subprocess
from pathlib import Path
from secrets import token_hex

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TEMP_ATTEMPTS = 16  # each name has 64 random bits: more than one clash means someone is planting them


class UnsafePathError(Exception):
    """A file or directory another user could change under us; the message says what to do."""


class FileReadError(Exception):
    """A file we read is not a regular file, too large, or unreadable; the message says which."""


# ---------------------------------------------------------------- the state directory


def check_state_dir(path: Path) -> Path:
    """Create the state directory (0700) if missing, and refuse one other users could tamper with.

    Refused: a directory (or the directory a symlink points to) not owned by the running user
    or writable by anyone else (others, or a group with someone else in it), and one inside a
    directory that someone other than root and the running user owns or that anyone else can
    write (unless root-owned and sticky, like /tmp). Returns the path, absolute."""
    path = Path(os.path.abspath(path))
    if os.path.lexists(path):
        above = _ancestors(path.parent) + _ancestors(path.resolve().parent)
        for parent in above:
            _check_parent(parent, path)
        _check_own_dir(path)
    else:
        existing = next(p for p in path.parents if os.path.lexists(p))
        for parent in _ancestors(existing):
            _check_parent(parent, path)
        private_dir(path)
        _check_own_dir(path)
    return path


def _ancestors(directory: Path) -> list[Path]:
    """`directory` and every directory above it, both as written and with symlinks resolved."""
    seen: dict[Path, None] = {}
    for start in (directory, directory.resolve()):
        for p in (start, *start.parents):
            seen.setdefault(p)
    return list(seen)


def _check_parent(parent: Path, state: Path) -> None:
    info = os.stat(parent)
    uid = os.geteuid()
    if info.st_uid not in (0, uid):
        raise UnsafePathError(
            f"{state}: the directory above it, {parent}, belongs to another user (uid {info.st_uid}), "
            "who could replace the state directory; use a state directory inside one of your own "
            "(e.g. --state-dir ~/.local/state/thinkube-tui)"
        )
    if _writable_by_others(info) and not (info.st_uid == 0 and info.st_mode & stat.S_ISVTX):
        raise UnsafePathError(
            f"{state}: the directory above it, {parent}, is writable by other users "
            f"(mode {_mode(info)}), who could replace the state directory; run `chmod go-w {parent}` "
            "or use a state directory inside one of your own (e.g. --state-dir ~/.local/state/thinkube-tui)"
        )


def _check_own_dir(path: Path) -> None:
    real = path.resolve()
    via = f"{path} (a symbolic link to {real})" if real != path else str(path)
    try:
        info = os.stat(real)
    except OSError as exc:
        raise UnsafePathError(f"state directory {via}: {exc.strerror}; choose another --state-dir") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"{via} is not a directory; choose another --state-dir")
    if info.st_uid != os.geteuid():
        raise UnsafePathError(
            f"state directory {via} belongs to another user (uid {info.st_uid}), not to you "
            f"(uid {os.geteuid()}); use a state directory of your own (--state-dir)"
        )
    if _writable_by_others(info):
        raise UnsafePathError(
            f"state directory {via} is writable by other users (mode {_mode(info)}), who could plant "
            f"files the install would overwrite; run `chmod 700 {real}` or use another --state-dir"
        )


def _writable_by_others(info: os.stat_result) -> bool:
    """Writable by anyone but its owner: by others, or by a group someone else is in. A
    user-private group (umask 002 distributions: the owner alone in it) counts as the owner,
    as Debian's OpenSSH allows for ~/.ssh."""
    if info.st_mode & stat.S_IWOTH:
        return True
    return bool(info.st_mode & stat.S_IWGRP) and not _private_group(info.st_gid, info.st_uid)


def _private_group(gid: int, uid: int) -> bool:
    try:
        owner = pwd.getpwuid(uid).pw_name
        group = grp.getgrgid(gid)
    except KeyError:
        return False
    if any(member != owner for member in group.gr_mem):
        return False
    return all(user.pw_uid == uid for user in pwd.getpwall() if user.pw_gid == gid)


def _mode(info: os.stat_result) -> str:
    return oct(stat.S_IMODE(info.st_mode))[2:].rjust(4, "0")


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parent as 0700 (`mkdir(parents=True)` gives parents the
    default mode, which would leave the state directory readable by others)."""
    missing = []
    for directory in (path, *path.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
    return path


# ---------------------------------------------------------------- writing


def write_atomic(path: Path, text: str | bytes, mode: int = 0o600) -> None:
    """Replace `path` with `text` so that a crash leaves the old or the new content, whole.

    The temporary file has an unpredictable name and is created exclusively without following
    symlinks; it is removed if anything fails (a full disk leaves no partial file behind)."""
    private_dir(path.parent)
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = _create_temp(path, mode)
    try:
        _write_all(fd, data, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def create_new(path: Path, text: str | bytes, mode: int = 0o600) -> None:
    """Write a file that must not exist yet (Vault's keys, crash reports): never overwrites,
    never follows a symlink. Raises `FileExistsError` if anything is at `path`."""
    private_dir(path.parent)
    data = text.encode() if isinstance(text, str) else text
    fd = os.open(path, _CREATE, mode)
    try:
        _write_all(fd, data, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    _fsync_dir(path.parent)


def open_append(path: Path, mode: int = 0o600) -> int:
    """A file descriptor appending to `path` (created `mode` if missing): refused if `path` is a
    symlink or anything but a regular file of ours. The file's mode is set to `mode`."""
    private_dir(path.parent)
    try:
        # O_NONBLOCK: a FIFO planted at the name is refused below instead of blocking the open
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        fd = os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(
                f"{path} is a symbolic link; thinkube-tui never writes through one: remove it and run again"
            ) from None
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads
            raise UnsafePathError(f"{path} is not a regular file of yours; remove it and run again") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        raise UnsafePathError(f"{path} is not a regular file of yours; remove it and run again")
    os.fchmod(fd, mode)  # an existing file keeps its mode otherwise
    os.set_blocking(fd, True)
    return fd


def _create_temp(path: Path, mode: int) -> tuple[int, Path]:
    for _ in range(_TEMP_ATTEMPTS):
        tmp = path.with_name(f".{path.name}.{token_hex(8)}.tmp")
        try:
            return os.open(tmp, _CREATE, mode), tmp
        except FileExistsError:
            continue  # something is there already (perhaps planted): never touch it, pick another name
    raise UnsafePathError(
        f"{path.parent}: could not create a temporary file ({_TEMP_ATTEMPTS} names taken); "
        "check who else writes to this directory"
    )


def _write_all(fd: int, data: bytes, mode: int) -> None:
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)  # the umask does not get to widen or narrow what we asked for
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------- reading


def read_limited(path: Path, limit: int, what: str = "file") -> bytes:
    """At most `limit` bytes of a regular file: a FIFO, a device (/dev/zero) or a larger file
    is refused with a `FileReadError` naming it, without reading it whole or blocking on it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise FileReadError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileReadError(f"{path}: the {what} is not a regular file; give the path of a file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FileReadError(f"{path}: the {what} is larger than {limit // 1024} KiB; is this the right file?")
    return data


# ---------------------------------------------------------------- where files land


def unignored_in_git(path: Path) -> Path | None:
    """The git work tree `path` lies in, when git would not ignore it there (so it could be
    committed); None outside a work tree or when ignored. We only ask: we never edit ignore files."""
    path = Path(os.path.abspath(path))
    root = next((d for d in path.parents if os.path.lexists(d / ".git")), None)
    if root is None:
        return None
    try:
        asked = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", "--", str(path)],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git here: assume the worst
        return root
    return None if asked.returncode == 0 else root


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "thinkube-tui"
