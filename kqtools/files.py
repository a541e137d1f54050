"""Files kq writes: created private, never through a symbolic link, replaced whole or not at all.

Every file kq creates — the database (``kqtools.storage``), ``-o`` exports, ``--rejects`` files,
the scratch files of a large ``kq assign`` — is made by :func:`open_private`: ``O_CREAT|O_EXCL|
O_NOFOLLOW`` with the exact mode asked for (``Settings.file_mode``, 0600 unless ``KQ_FILE_MODE``
says 0640), whatever the umask. Exports and rejects files are written by :func:`replace_file`: into
a new private file beside the target, flushed to disk, then renamed over it. So a full disk, a
file-size limit or Ctrl-C leaves the file that was there as it was and no partial file; a symbolic
link at the target is refused and its target never touched (a cron job writing into a shared folder
must not be turned into a way to overwrite someone's file); every failure is one line naming the
file (:class:`OutputFileError`).

Standard library only.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from typing import IO, Iterator

from .errors import KqtoolsError
from .i18n import _

DEFAULT_MODE = 0o600
TEMP_SUFFIX = ".kq-tmp"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class OutputFileError(KqtoolsError):
    """A file kq was asked to write that it cannot or will not write; the message names it."""


def open_private(path: str, mode: int = DEFAULT_MODE) -> int:
    """A new file at ``path`` with exactly ``mode``, opened for writing: its descriptor. Never
    opens an existing file or follows a symbolic link (raises ``FileExistsError`` then: ``O_EXCL``
    refuses a link, even a dangling one). Other failures raise ``OSError`` as they come."""
    fd = os.open(path, _CREATE, mode)
    try:
        os.fchmod(fd, mode)  # the exact mode, whatever the umask
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_target(path: str) -> None:
    """Refuse, before any work, a target kq will not write: a symbolic link, a folder, a device or a
    pipe, a read-only file, a folder that does not exist (one line each, naming ``path``)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputFileError(_("{path}: cannot write: {reason}").format(path=path, reason=_reason(exc))) from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise OutputFileError(_("{path} is a symbolic link: kq does not write through links (the file it "
                                    "points to is left untouched); give a real path, or remove the link").format(
                                      path=path))
        if stat.S_ISDIR(st.st_mode):
            raise OutputFileError(_("{path} is a folder: give a file name").format(path=path))
        if not stat.S_ISREG(st.st_mode):
            raise OutputFileError(_("{path} is not a regular file (a device or a pipe): kq writes files only; "
                                    "to print, leave out -o").format(path=path))
        if not st.st_mode & 0o222 or not os.access(path, os.W_OK):  # write-protected: also for root
            raise OutputFileError(_("{path} is read-only: kq does not replace it").format(path=path))
    folder = _folder(path)
    if not os.path.isdir(folder):
        raise OutputFileError(_("{path}: folder {folder} does not exist").format(path=path, folder=folder))


@contextlib.contextmanager
def replace_file(path: str, mode: int = DEFAULT_MODE, *, binary: bool = False, encoding: str = "utf-8",
                 newline: str | None = "") -> Iterator[IO]:
    """``with replace_file(path) as fh: …`` writes a new file that replaces ``path`` only when the
    block ends without an error. The data goes to a private temporary file in the same folder
    (``.NAME.XXXXXXXX.kq-tmp``), which is flushed to disk and renamed over ``path``; on any error
    it is removed and ``path`` keeps what it had. ``OSError`` becomes :class:`OutputFileError`."""
    check_target(path)
    existed = os.path.lexists(path)
    # the target's name (cut: the temporary name must fit where a 255-byte name fits) says whose it is
    stem = os.path.basename(path).encode("utf-8", "surrogateescape")[:160].decode("utf-8", "ignore")
    temp = os.path.join(_folder(path), f".{stem}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        fd = open_private(temp, mode)
    except OSError as exc:
        raise OutputFileError(_("{path}: cannot write: {reason}").format(path=path, reason=_reason(exc, _folder(path)))) from None
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": encoding,
                                                                           "newline": newline})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.islink(path):  # a link put there while we wrote: rename would replace the link, not
            raise OutputFileError(_("{path} is a symbolic link: kq does not write through links").format(path=path))  # follow it
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            kept = (_("{path} was left as it was") if existed else _("nothing was written")).format(path=path)
            raise OutputFileError(_("{path}: cannot write: {reason} ({kept})").format(
                path=path, reason=_reason(exc, _folder(path)), kept=kept)) from None
        raise


def _folder(path: str) -> str:
    return os.path.dirname(os.path.abspath(path))


def _reason(exc: OSError, folder: str | None = None) -> str:
    """What went wrong, in words (the OS's words, a few made plainer)."""
    code = exc.errno
    if code == errno.ENOSPC:
        return _("the disk is full")
    if code == errno.EDQUOT:
        return _("disk quota exceeded")
    if code == errno.EFBIG:
        return _("file too large (the file system's or this process's file-size limit)")
    if code in (errno.EACCES, errno.EPERM) and folder:
        return _("permission denied (can this user write to {folder}?)").format(folder=folder)
    if code == errno.EROFS:
        return _("read-only file system")
    return exc.strerror or str(exc)
