"""Writing files so that nothing already written is lost, and run folders that belong to one run.

atomic_output: the one atomic writer. A temporary file next to the target, written by the caller (with
Python, h5py, nir, a compiler...), fsynced, renamed over the target, and the folder fsynced; a failure
(disk full, read-only folder) removes the temporary file and raises OSError naming the target, never the
temporary file. A reader sees the old file or the new one, never half of one. atomic_write and
atomic_write_text are its forms for a file object and for text.

RunLock: an exclusive lock (flock) on RUN/.lock while a run trains, so a second training into the same
folder stops with one line instead of interleaving its files with the first's.

describe_os_error: the one line the command line prints for an OSError: the file, what went wrong, the fix.
"""
from __future__ import annotations

import errno
import itertools
import os
import shutil
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List

from genn_eventprop.errors import UserError

RUN_FILES = ("config.yaml", "metrics.csv", "metrics.jsonl", "spikes_per_layer.csv", "results.json", "checkpoints", "code",
             "plots")
LOCK_NAME = ".lock"


def _fsync_folder(folder: str):
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:   # some file systems cannot sync a folder; the rename itself is still atomic
        pass
    finally:
        os.close(fd)


_TEMP_NUMBERS = itertools.count()


@contextmanager
def atomic_output(path) -> Iterator[str]:
    """Yields the name of a temporary file in path's folder to write path's content into (see the module
    docstring); when the block ends without an exception it becomes path, atomically and durably."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base, ext = os.path.splitext(os.path.basename(path))
    tmp = os.path.join(folder, f".{base}.tmp{os.getpid()}_{next(_TEMP_NUMBERS)}{ext}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)   # on disk before the rename, so a crash cannot leave a cut-off file
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        raise OSError(err.errno, err.strerror or str(err), path) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_folder(folder)


def atomic_write(path: str, write: Callable, binary: bool = False):
    """write(file object) into path atomically and durably (atomic_output)."""
    with atomic_output(path) as tmp, open(tmp, "wb" if binary else "w") as f:
        write(f)


def _remove_quietly(path: str):
    try:
        os.remove(path)
    except OSError:
        pass


def atomic_write_text(path: str, text: str):
    atomic_write(path, lambda f: f.write(text))


def describe_os_error(err: OSError) -> str:
    """One line for an OSError: which file, what happened, and how to fix it."""
    what = err.strerror or str(err)
    name = err.filename if err.filename is not None else None
    where = f"'{name}': " if name else ""
    fixes = {
        errno.ENOSPC: "free some disk space",
        errno.EDQUOT: "free some space within your disk quota",
        errno.EFBIG: "the file is larger than this process may write (see ulimit -f); raise the limit",
        errno.EROFS: "the file system is read-only; give a folder on a writable disk",
        errno.EACCES: "make the folder writable for this user, or give another folder",
        errno.EPERM: "make the folder writable for this user, or give another folder",
        errno.ENOENT: "check the path",
        errno.EIO: "the disk reported an input/output error; check it",
    }
    fix = fixes.get(err.errno, "check the file and the disk")
    return f"{where}{what}; {fix}"


# -- run folders --------------------------------------------------------------------------------
def run_files(run_dir: str) -> List[str]:
    """The files and folders of a training run present in run_dir (empty for a new or empty folder)."""
    if not os.path.isdir(run_dir):
        return []
    return [n for n in RUN_FILES if os.path.exists(os.path.join(run_dir, n))]


def clear_run(run_dir: str):
    """Remove the files of the run in run_dir (train --overwrite); other files there are left alone."""
    for name in run_files(run_dir):
        path = os.path.join(run_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


_HELD: Dict[str, list] = {}   # lock path -> [file descriptor, count]: a process may take its own lock again


class RunLock:
    """Exclusive lock on run_dir while a run trains (re-entrant within one process).

    A second process asking for it gets a UserError at once naming the process that holds it. The lock is a
    flock on run_dir/.lock, released by the kernel when the holder exits in any way, kill -9 included.
    """

    def __init__(self, run_dir: str, what: str = "training"):
        self.run_dir = run_dir
        self.path = os.path.abspath(os.path.join(run_dir, LOCK_NAME))
        self.what = what
        self.created_folder = False

    def acquire(self):
        import fcntl
        held = _HELD.get(self.path)
        if held is not None:
            held[1] += 1
            return self
        if not os.path.isdir(self.run_dir):
            os.makedirs(self.run_dir, exist_ok=True)
            self.created_folder = True
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                by = f" (process {holder})" if holder else ""
                raise UserError(f"{self.run_dir} is in use by another {self.what}{by}; wait for it to end, or "
                                f"give another run folder with --out") from None
            except BaseException:
                os.close(fd)
                raise
            # the file may have been removed and created again between our open and lock: retry on the new one
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _HELD[self.path] = [fd, 1]
        return self

    def release(self):
        held = _HELD.get(self.path)
        if held is None:
            return
        held[1] -= 1
        if held[1]:
            return
        del _HELD[self.path]
        try:
            os.remove(self.path)   # while still held: no other process can have locked this file
        except OSError:
            pass
        os.close(held[0])
        if self.created_folder:   # a run that failed before writing anything leaves no empty folder behind
            try:
                os.rmdir(self.run_dir)
            except OSError:
                pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _read_pid(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 32).decode(errors="replace").strip()
    except OSError:
        return ""
