"""SFTP on a simulated node, as the user who logged in -- what OpenSSH's sftp-server does.

The files are the node's (`VirtualFS`: its real directory overlaid on the generated system
files), so SFTP sees what the shell sees. As on a real node, the login user may create files
only where it may write (its home, /tmp, /dev/shm; elsewhere "Permission denied"), what it
creates is its own (stat reports uid/gid 1000), a file created by root (`sudo install`, a
redirection under `sudo sh -c`) stays root's, and only the owner may chmod a file. The
disk's own uid (whoever runs the lab) is never shown.
"""

from __future__ import annotations

import asyncio
import io
import os
import posixpath
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import asyncssh

if TYPE_CHECKING:
    from .node import LabNode

_WRITING = asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC


class NodeSFTPServer(asyncssh.SFTPServer):
    """One SFTP session on `node` as `user`."""

    def __init__(self, chan: Any, *, node: LabNode, user: str) -> None:
        super().__init__(chan, chroot=str(node.root_dir).encode())
        self.node, self.user = node, user
        self.home = "/root" if user == "root" else f"/home/{user}"
        self._paths: dict[int, str] = {}  # open file object -> its path on the node

    # -- paths

    def lab_path(self, path: bytes) -> str:
        text = os.fsdecode(path)
        if not text.startswith("/"):  # sftp-server starts in the user's home directory
            text = posixpath.join(self.home, text)
        return self.node.fs.norm(text)

    def map_path(self, path: bytes) -> bytes:
        return super().map_path(self.lab_path(path).encode())

    def _disk(self, p: str) -> str:
        return os.fsdecode(super().map_path(p.encode()))

    def _may_write(self, p: str) -> None:
        why = self.node.fs.cannot_write(p, self.user)
        if why in ("Permission denied", "Read-only file system"):
            raise asyncssh.SFTPPermissionDenied(why)
        if why:
            raise asyncssh.SFTPNoSuchFile("No such file")

    async def _disk_parent(self, p: str) -> None:
        """The directory on disk for a path whose parent the simulation has (e.g. /home/thinkube)."""
        await asyncio.to_thread(os.makedirs, os.path.dirname(self._disk(p)), exist_ok=True)

    # -- attributes: the lab's owner, never the disk's

    async def _attrs(self, p: str) -> asyncssh.SFTPAttrs:
        fs = self.node.fs
        try:
            attrs = asyncssh.SFTPAttrs.from_local(await asyncio.to_thread(os.lstat, self._disk(p)))
        except (FileNotFoundError, NotADirectoryError):
            if await fs.is_dir(p):
                attrs = asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_DIRECTORY, permissions=0o40755, size=4096)
            elif await fs.is_file(p):
                text = await fs.read(p) or ""
                attrs = asyncssh.SFTPAttrs(
                    type=asyncssh.FILEXFER_TYPE_REGULAR, permissions=0o100644, size=len(text.encode())
                )
            else:
                raise asyncssh.SFTPNoSuchFile("No such file") from None
        uid = self.node.uid(fs.owner(p))
        attrs.uid = attrs.gid = uid  # each user's primary group has its uid's number (root 0, thinkube 1000)
        return attrs

    async def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return await self._attrs(self.lab_path(path))

    async def lstat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return await self._attrs(self.lab_path(path))

    async def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        flush = getattr(file_obj, "flush", None)
        if flush is not None:
            flush()
        return await self._attrs(self._paths[id(file_obj)])

    async def _may_change(self, p: str, attrs: asyncssh.SFTPAttrs) -> None:
        if self.user == "root":
            return
        if attrs.uid is not None or attrs.gid is not None or self.node.fs.owner(p) != self.user:
            raise asyncssh.SFTPPermissionDenied("Operation not permitted")

    async def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        p = self.lab_path(path)
        await self._attrs(p)  # no such file: say so first
        await self._may_change(p, attrs)
        attrs.uid = attrs.gid = None  # ownership lives in the lab, not on the disk
        super().setstat(path, attrs)

    async def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        await self._may_change(self._paths[id(file_obj)], attrs)
        attrs.uid = attrs.gid = None
        super().fsetstat(file_obj, attrs)

    # -- files

    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        p = self.lab_path(path)
        fs = self.node.fs
        file_obj: object
        if pflags & _WRITING:
            self._may_write(p)
            existed = await fs.exists(p)
            await self._disk_parent(p)
            file_obj = super().open(path, pflags, attrs)
            fs.deleted.discard(p)
            if not existed:
                fs.set_owner(p, self.user)
            self.node.changed()
        else:
            if fs.cannot_read(p, self.user):
                raise asyncssh.SFTPPermissionDenied("Permission denied")
            if await asyncio.to_thread(os.path.isfile, self._disk(p)):
                file_obj = super().open(path, pflags, attrs)
            else:
                text = await fs.read(p)  # a generated system file: served from memory
                if text is None:
                    raise asyncssh.SFTPNoSuchFile("No such file")
                file_obj = io.BytesIO(text.encode())
        self._paths[id(file_obj)] = p
        return file_obj

    def close(self, file_obj: object) -> None:
        self._paths.pop(id(file_obj), None)
        super().close(file_obj)

    async def remove(self, path: bytes) -> None:
        p = self.lab_path(path)
        self._may_write(p)
        if not await self.node.fs.is_file(p):
            raise asyncssh.SFTPNoSuchFile("No such file")
        await self.node.fs.remove(p)
        self.node.changed()

    async def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        p = self.lab_path(path)
        self._may_write(p)
        if await self.node.fs.exists(p):
            raise asyncssh.SFTPFailure("File exists")
        await self._disk_parent(p)
        super().mkdir(path, attrs)
        self.node.fs.set_owner(p, self.user)

    async def rmdir(self, path: bytes) -> None:
        p = self.lab_path(path)
        self._may_write(p)
        super().rmdir(path)
        self.node.fs.owners.pop(p, None)

    async def _rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, new = self.lab_path(oldpath), self.lab_path(newpath)
        self._may_write(old)
        self._may_write(new)
        await self._disk_parent(new)
        await asyncio.to_thread(os.replace, self._disk(old), self._disk(new))
        fs = self.node.fs
        fs.owners[new] = fs.owner(old)
        fs.owners.pop(old, None)
        self.node.changed()

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        if await self.node.fs.exists(self.lab_path(newpath)):
            raise asyncssh.SFTPFailure("File exists")  # SFTP's plain rename never replaces
        await self._rename(oldpath, newpath)

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        await self._rename(oldpath, newpath)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        p = self.lab_path(path)
        fs = self.node.fs
        if not await fs.is_dir(p):
            raise asyncssh.SFTPNoSuchFile("No such file")
        for name in [".", "..", *await fs.listdir(p)]:
            child = fs.norm(posixpath.join(p, name))
            yield asyncssh.SFTPName(name.encode(), attrs=await self._attrs(child))
