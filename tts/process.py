"""Run a helper program (espeak-ng, sox) with an argument list, files for its I/O, and a hard timeout.

How it works: `os.posix_spawn` with stdin/stdout/stderr opened on regular files, then `waitpid(WNOHANG)`
polled with short, growing sleeps until the deadline, after which the child is killed. No shell, no
pipes: under gevent monkey-patching (`os`, `time`) every wait yields to other greenlets, and it avoids
the stdlib `subprocess` + patched `os.close` deadlock (gevent defers closing pipe descriptors to the hub,
so an unpatched `subprocess` blocks forever on its exec-error pipe). Without gevent it is plain
blocking code and works from any thread.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from typing import Iterator

from tts.model import TtsError

_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


@contextlib.contextmanager
def scratch_dir() -> Iterator[str]:
    """A private temporary directory for one helper run, removed afterwards (files only, no fd tricks)."""
    path = tempfile.mkdtemp(prefix="jinqiao-tts-")
    try:
        yield path
    finally:
        for name in os.listdir(path):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(path, name))
        with contextlib.suppress(OSError):
            os.rmdir(path)


@dataclass(frozen=True)
class Finished:
    """How a helper program ended."""

    returncode: int
    stderr: str


def resolve(program: str) -> str:
    """Absolute path of `program` (a name on PATH or a path); TtsError if it is not there."""
    found = shutil.which(program)
    if not found:
        raise TtsError(f"{program} is not installed or not executable")
    return os.path.abspath(found)


def run_command(argv: list[str], *, timeout: float, workdir: str, stdin_path: str = os.devnull,
                stdout_path: str | None = None) -> Finished:
    """Run argv (argv[0] an absolute path); stdout goes to `stdout_path` (default: discarded)."""
    stderr_path = os.path.join(workdir, "stderr.txt")
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, stdin_path, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout_path or os.devnull, _WRITE, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path, _WRITE, 0o600),
    ]
    try:
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions)
    except (OSError, TypeError) as exc:  # TypeError: gevent-patched spawn outside the main thread's loop
        raise TtsError(f"cannot start {os.path.basename(argv[0])}: {exc}") from exc
    status = _wait(pid, timeout)
    if status is None:
        raise TtsError(f"{os.path.basename(argv[0])} did not finish within {timeout:.1f} s")
    try:
        with open(stderr_path, encoding="utf-8", errors="replace") as err:
            stderr = err.read(2000).strip()
    except OSError:
        stderr = ""
    return Finished(os.waitstatus_to_exitcode(status), stderr)


def _wait(pid: int, timeout: float) -> int | None:
    """The child's wait status, or None after killing it at the deadline."""
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        left = deadline - time.monotonic()
        if left <= 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            return None
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.004)
