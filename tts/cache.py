"""Content-addressed store of rendered prompts on disk, with a size limit and least-recently-used eviction.

How it works: a prompt's key is the sha256 of everything that changes its audio (text, voice, rate,
sample rate, format, backend version); its file is `<cache_dir>/<key[:2]>/<key>.wav`, written to a
temp file and renamed into place, so readers never see half a file. A file's mtime is its last use:
a hit touches it, eviction removes the oldest first. "Same key rendered once" holds across greenlets,
threads and processes: `rendering(key)` takes an flock on `<cache_dir>/.locks/<key>.lock` through a
descriptor of its own (polled with LOCK_NB and short sleeps, so it never blocks a gevent hub whatever
is monkey-patched); whoever gets it second finds the file and counts a hit.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from typing import Iterator

from tts.model import CacheStats, TtsError
from tts.wav import Pcm, write_wav

log = logging.getLogger(__name__)

STALE_TEMP_S = 3600.0
RESCAN_S = 60.0  # recount the directory at least this often when writing


def cache_key(text: str, voice: str, rate: int | None, sample_rate: int, fmt: str, backend_version: str) -> str:
    """sha256 hex of the inputs that determine a prompt's audio."""
    material = json.dumps([text, voice, rate, sample_rate, fmt, backend_version], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class AudioCache:
    """The on-disk prompt cache of one directory; safe to share between threads and processes."""

    def __init__(self, cache_dir: str, max_bytes: int) -> None:
        self.cache_dir = os.path.abspath(cache_dir)
        self.max_bytes = max_bytes
        self._guard = threading.Lock()  # counters only; never held across I/O
        self._hits = self._misses = self._failures = self._evictions = 0
        self._bytes: int | None = None  # running total, rescanned before evicting
        self._last_touch_ns = 0
        self._scanned_at = 0.0

    def path_for(self, key: str) -> str:
        return os.path.join(self.cache_dir, key[:2], f"{key}.wav")

    # -- lookups ---------------------------------------------------------------------------------
    def lookup(self, key: str) -> str | None:
        """The cached file's path (marked as just used, counted as a hit), or None."""
        path = self.path_for(key)
        try:
            os.utime(path, ns=(self._touch_ns(),) * 2)
        except FileNotFoundError:
            return None
        with self._guard:
            self._hits += 1
        return path

    def _touch_ns(self) -> int:
        with self._guard:  # strictly increasing within the process, so LRU order is exact
            self._last_touch_ns = max(time.time_ns(), self._last_touch_ns + 1)
            return self._last_touch_ns

    # -- writes ----------------------------------------------------------------------------------
    def store(self, key: str, pcm: Pcm) -> str:
        """Write the prompt atomically, count a miss, evict if over the limit; returns its path."""
        path = self.path_for(key)
        shard = os.path.dirname(path)
        os.makedirs(shard, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=shard)
        os.close(fd)
        try:
            write_wav(tmp, pcm)
            os.utime(tmp, ns=(self._touch_ns(),) * 2)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise TtsError(f"cannot write {path}: {exc}") from exc
        size = os.path.getsize(path)
        with self._guard:
            self._misses += 1
            if self._bytes is not None:
                self._bytes += size
            stale = time.monotonic() - self._scanned_at > RESCAN_S  # other processes write here too
            over = self._bytes is None or self._bytes > self.max_bytes or stale
        if over:
            self.evict(keep=path)
        return path

    def record_failure(self) -> None:
        with self._guard:
            self._failures += 1

    # -- single flight ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def rendering(self, key: str, timeout: float) -> Iterator[None]:
        """Hold the exclusive right to render `key` (TtsError if not obtained within `timeout` s).

        An flock on a per-key lock file: each caller opens its own descriptor, so it excludes other
        threads and greenlets of this process as well as other processes.
        """
        with self._file_lock(key, timeout):
            yield

    @contextlib.contextmanager
    def _file_lock(self, key: str, timeout: float) -> Iterator[None]:
        lock_dir = os.path.join(self.cache_dir, ".locks")
        os.makedirs(lock_dir, exist_ok=True)
        lock_path = os.path.join(lock_dir, f"{key}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        locked = False
        try:
            deadline, pause = time.monotonic() + timeout, 0.002
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    locked = True
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise TtsError(f"another render of this prompt did not finish within {timeout:.1f} s")
                    time.sleep(pause)  # cooperative under gevent monkey-patching
                    pause = min(pause * 2, 0.02)
            yield
        finally:
            # Unlinking while locked may let a late opener lock a fresh inode; it then finds the
            # finished file in the cache (a hit), so the worst case is a duplicate render, never a bad file.
            if locked:
                with contextlib.suppress(OSError):
                    os.unlink(lock_path)
            os.close(fd)

    # -- size limit ------------------------------------------------------------------------------
    def _scan(self) -> list[tuple[int, int, str]]:
        """(mtime_ns, size, path) of every cached prompt; removes stale temp files on the way."""
        found: list[tuple[int, int, str]] = []
        now = time.time()
        self._scanned_at = time.monotonic()
        try:
            shards = [e for e in os.scandir(self.cache_dir) if e.is_dir() and len(e.name) == 2]
        except FileNotFoundError:
            return found
        for shard in shards:
            for entry in os.scandir(shard.path):
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                if entry.name.endswith(".wav"):
                    found.append((st.st_mtime_ns, st.st_size, entry.path))
                elif entry.name.endswith(".tmp") and now - st.st_mtime > STALE_TEMP_S:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
        return found

    def evict(self, keep: str | None = None) -> int:
        """Remove least recently used prompts until the cache fits `max_bytes`; returns files removed."""
        files = sorted(self._scan())
        total = sum(size for _, size, _ in files)
        removed = 0
        for _, size, path in files:
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed += 1
                log.debug("evicted %s (%d bytes)", path, size)
            total -= size
        with self._guard:
            self._bytes = total
            self._evictions += removed
        return removed

    def clear(self) -> tuple[int, int]:
        """Delete every cached prompt; returns (files, bytes) removed."""
        files = self._scan()
        count = freed = 0
        for _, size, path in files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                count, freed = count + 1, freed + size
        with self._guard:
            self._bytes = 0
        return count, freed

    def stats(self) -> CacheStats:
        files = self._scan()
        total = sum(size for _, size, _ in files)
        with self._guard:
            self._bytes = total
            return CacheStats(
                hits=self._hits, misses=self._misses, failures=self._failures, evictions=self._evictions,
                bytes=total, files=len(files), max_bytes=self.max_bytes, cache_dir=self.cache_dir,
            )
