"""Files the user owns: bounded reads, safe outputs, atomic writes and one writer per output.

The rules every command follows (README, "Files"):

* **Reads are bounded.** Every input goes through :func:`read_limited`: at most
  ``limit`` bytes whatever the file is (a regular file, a pipe, ``/dev/zero``).
  A FIFO with no writer reads as empty instead of blocking forever.
* **Only regular files are ever replaced.** :func:`output_target` resolves an
  output path: a symlink is written *through* (its target is replaced, the link
  stays); a directory, device, FIFO or socket is refused. :func:`refuse_inputs`
  refuses an output that is one of the run's own inputs (same inode or path).
* **Writes are atomic.** :func:`atomic_write` writes a temporary file in the
  target's directory, fsyncs it and ``os.replace``-s it onto the target, so a file
  is always entirely old or entirely new. A failed write (a full disk) removes the
  temporary file and says in one line that the previous file is unchanged.
* **One writer per output.** :class:`OutputLock` holds an exclusive ``flock`` on a
  hidden lock file beside each output for the whole run (never through a symbolic
  link); a second run writing any of the same files is refused at once. :class:`StagedLog` keeps a run's metrics in a
  temporary file until the run has saved something, so a run that fails early
  leaves the previous metrics file untouched.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from .errors import NamesmithError, OutputError, WriteFailed

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; runs are not serialised there
    fcntl = None

CHUNK = 4 << 20
TEMP_TAG = ".namesmith-"  # temporary files are ``.<target>.namesmith-XXXXXXXX.tmp``: a user's file never matches


_TEMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"  # mkstemp's alphabet (remove_stale_temps matches it)


def _temp_name(target: Path, suffix: str = ".tmp") -> str:
    """A fresh temporary name beside ``target``: ``.<name>.namesmith-`` + 8 random characters + ``suffix``."""
    tail = "".join(secrets.choice(_TEMP_CHARS) for _ in range(8))
    return os.path.join(target.parent, f".{target.name}{TEMP_TAG}{tail}{suffix}")


def _create(name: str) -> int:
    """Create ``name`` exclusively (mode 0600, never through a link); FileExistsError if it exists."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.open(name, flags, 0o600)


# ----- reading ---------------------------------------------------------------------------------
def read_limited(path: str | os.PathLike, limit: int, *, what: str = "file",
                 error: type[NamesmithError] = NamesmithError) -> bytes:
    """The bytes of ``path``, refusing more than ``limit`` of them; errors are one ``error`` line."""
    name = os.fspath(path)
    if not name:
        raise error("an empty path was given; name a file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags)  # O_NONBLOCK: opening a FIFO must not wait for a writer
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except PermissionError:
        raise error(f"{name}: permission denied") from None
    except OSError as e:
        raise error(f"{name}: cannot read: {e.strerror or e}") from None
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise error(f"{name}: is a directory, expected a {what}")
        os.set_blocking(fd, True)  # a pipe with a writer: wait for its data as usual
        buf = bytearray()
        while len(buf) <= limit:
            chunk = os.read(fd, min(CHUNK, limit + 1 - len(buf)))
            if not chunk:
                break
            buf += chunk
    except OSError as e:
        raise error(f"{name}: cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(buf) > limit:
        raise error(f"{name}: more than {limit:,} bytes, over the limit for a {what}")
    return bytes(buf)


# ----- output paths ----------------------------------------------------------------------------------
def output_target(path: str | os.PathLike, what: str = "output") -> Path:
    """The regular file that writing ``path`` replaces (or creates); see the module docstring."""
    name = os.fspath(path)
    if not name:
        raise OutputError(f"the {what} path is empty; give a file name (e.g. -o model.npz)")
    p = Path(name)
    if os.path.islink(p):
        p = Path(os.path.realpath(p))  # write through the link to its target
    try:
        st = os.stat(p)
    except FileNotFoundError:
        return p
    except OSError as e:
        raise OutputError(f"{name}: cannot use as the {what}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{name}: is a directory; give a file name for the {what}")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{name}: is not a regular file (a device, pipe or socket); "
                          f"namesmith only ever replaces regular files")
    return p


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def refuse_inputs(outputs: Iterable[Path], inputs: Iterable[tuple[str, str | os.PathLike | None]]) -> None:
    """Raise :class:`OutputError` if an output would replace one of the run's input files."""
    inputs = [(label, p) for label, p in inputs if p is not None and os.fspath(p) and os.path.exists(p)]
    for out in outputs:
        for label, p in inputs:
            if same_file(out, p):
                raise OutputError(f"{out} is this run's {label} ({p}); writing it would destroy an input, "
                                  "so choose another output path (-o)")


def ensure_writable(target: Path, what: str = "output") -> None:
    """Create the target's directory if needed and check that a file can be created there."""
    parent = target.parent
    probe = _temp_name(target, ".probe")  # named first: a Ctrl-C once it exists removes it (see atomic_write)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd = _create(probe)
    except OSError as e:
        raise OutputError(f"cannot write the {what} {target}: {e.strerror or e} in {parent}") from None
    except BaseException:
        _remove_quietly(probe)
        raise
    try:  # a byte written and synced: a full disk is found now, not after the training
        os.write(fd, b"\0")
        os.fsync(fd)
    except OSError as e:
        raise _write_failed(target, e, target.exists()) from None
    finally:
        os.close(fd)
        os.unlink(probe)


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete temporary files a killed write of ``target`` left behind (call it holding the lock).

    Only names :func:`_temp_name` makes (``.<name>.namesmith-`` + 8 random characters + ``.tmp``) that are
    regular files, never links: a user's ``.m.npz.keep.tmp`` is not ours.
    """
    ours = re.compile(re.escape(f".{target.name}{TEMP_TAG}") + r"[a-z0-9_]{8}\.tmp")
    removed = []
    for p in target.parent.glob(f".{target.name}{TEMP_TAG}*.tmp"):
        try:
            if ours.fullmatch(p.name) and stat.S_ISREG(os.lstat(p).st_mode):
                p.unlink()
                removed.append(p)
        except OSError:
            pass
    return removed


def _normal_permissions(path: str) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # created 0600; give the file the usual permissions


def _write_failed(path, e: OSError, existed: bool) -> WriteFailed:
    kept = f"the previous {Path(path).name} is unchanged" if existed else "nothing was written"
    return WriteFailed(f"cannot write {path}: {e.strerror or e}; {kept}")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fileobj)`` on a temp file next to the target, fsync, then ``os.replace``.

    Returns the file written (a symlink's target). Raises :class:`OutputError` for
    a path that is not a regular file and :class:`WriteFailed` when the disk fails.
    """
    target = output_target(path)
    existed = target.exists()
    # the name is chosen before the file is made, so a Ctrl-C at any bytecode after that removes it (with
    # mkstemp the file could exist before its name reached us: an ensemble's final save once left one)
    tmp = _temp_name(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = _create(tmp)
                break
            except FileExistsError:  # another writer's name (never ours to remove): draw again
                tmp = _temp_name(target)
    except OSError as e:
        raise _write_failed(path, e, existed) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    try:
        _normal_permissions(tmp)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        output_target(target)  # still a regular file (or nothing) right before the replace
        os.replace(tmp, target)
    except BaseException as e:
        _remove_quietly(tmp)
        if isinstance(e, OSError):
            raise _write_failed(path, e, existed) from None
        raise
    _fsync_dir(target.parent)
    return target


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def _fsync_dir(folder: Path) -> None:
    try:  # make the rename itself durable (best effort; not every filesystem allows it)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# ----- one writer per output ----------------------------------------------------------------------------
class OutputLock:
    """An exclusive lock on each of a run's outputs for its duration (``with OutputLock(a, b, ...): ...``).

    Each lock file is ``.<name>.lock`` beside its output; it holds the owner's pid
    and is removed on release. A run locks every file it may write, so two runs
    that share any file (``-o m`` and ``-o m.npz`` share ``m.last.npz``) cannot
    both start. The lock file is opened without following a symbolic link
    (``O_NOFOLLOW``): a link planted under that name is refused, never written
    through. After taking a lock the owner checks that the file it locked is still
    the one at that path (a finishing run unlinks it), the usual protocol for lock
    files that are deleted.
    """

    def __init__(self, *outs: str | os.PathLike):
        self.out = os.fspath(outs[0])
        self.paths = []
        for out in outs:
            target = output_target(out)
            self.paths.append(target.parent / f".{target.name}.lock")
        self.fds: list[tuple[Path, int]] = []

    def __enter__(self) -> "OutputLock":
        if fcntl is None:  # pragma: no cover
            return self
        try:
            for path in self.paths:
                self.fds.append((path, self._take(path)))
        except BaseException:
            self.__exit__()
            raise
        return self

    def _open(self, path: Path) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o644)
        except OSError as e:
            what = ("is a symbolic link" if os.path.islink(path) else "is a directory" if path.is_dir()
                    else f"cannot be opened ({e.strerror or e})")
            raise OutputError(f"the lock file {path} {what}; namesmith never writes through it: remove it "
                              "or choose another output path (-o)") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OutputError(f"the lock file {path} is not a regular file; remove it or choose another -o")
        return fd

    def _take(self, path: Path) -> int:
        while True:
            fd = self._open(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = os.read(fd, 32).decode("ascii", "replace").strip()
                os.close(fd)
                pid = f" (pid {owner})" if owner.isdigit() else ""
                raise OutputError(f"{self.out} shares files with another namesmith run that is writing{pid} "
                                  f"({path.name[1:-5]}); wait for it to finish or choose another output path (-o)"
                                  ) from None
            try:
                here, there = os.fstat(fd), os.lstat(path)
                if (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino):
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as e:
            os.close(fd)
            os.unlink(path)
            raise WriteFailed(f"cannot write the lock file {path}: {e.strerror or e}; nothing was written") from None
        return fd

    def __exit__(self, *exc) -> bool:
        for path, fd in reversed(self.fds):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            os.close(fd)
        self.fds = []
        return False


class StagedLog:
    """An append-only JSON-lines file that replaces its target only once the run has saved something.

    Records go to a temporary file beside the target, which starts with ``keep``
    (the lines a resumed run continues). :meth:`publish` renames it onto the target
    (the open handle keeps appending to the renamed file); closing an unpublished
    log deletes it, so the previous file survives a run that fails early.
    """

    def __init__(self, path: str | os.PathLike, keep: Iterable[str] = (), header: dict | None = None):
        self.target = output_target(path, "metrics file")
        self.tmp = _temp_name(self.target)  # named first: a Ctrl-C once it exists removes it (see atomic_write)
        try:
            fd = _create(self.tmp)
        except OSError as e:
            raise _write_failed(self.target, e, self.target.exists()) from None
        except BaseException:
            _remove_quietly(self.tmp)
            raise
        _normal_permissions(self.tmp)
        self.f = os.fdopen(fd, "w", encoding="utf-8")
        self.published = False
        for line in ([json.dumps(header)] if header is not None else []) + list(keep):
            self.write_line(line)

    def write_line(self, line: str) -> None:
        try:
            self.f.write(line + "\n")
            self.f.flush()
        except OSError as e:
            raise _write_failed(self.target, e, self.target.exists()) from None

    def write(self, record: dict) -> None:
        self.write_line(json.dumps(record))

    def publish(self) -> None:
        if not self.published:
            existed = self.target.exists()
            try:
                self.f.flush()
                output_target(self.target, "metrics file")
                os.replace(self.tmp, self.target)
            except OSError as e:
                raise _write_failed(self.target, e, existed) from None
            self.published = True

    def close(self) -> None:
        try:
            self.f.close()
        except OSError:  # a full disk at the last flush: the run already said what failed
            pass
        if not self.published:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass

    def __enter__(self) -> "StagedLog":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False


def read_jsonl(path: Path, limit: int = 256 << 20) -> list[dict]:
    """The JSON objects of a JSON-lines file; lines that are not JSON objects are skipped."""
    out = []
    for line in read_limited(path, limit, what="metrics file").decode("utf-8", "replace").splitlines():
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out
