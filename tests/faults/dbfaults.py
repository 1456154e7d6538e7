"""Store faults for the fault tests: a SQLite file locked by another process, a PostgreSQL server cut off."""
from __future__ import annotations

import subprocess
import sys
import time

import gevent
from gevent import socket
from gevent.server import StreamServer

LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def lock_sqlite(path: str, seconds: float) -> subprocess.Popen:
    """Another process takes an exclusive lock on the SQLite file and holds it `seconds`; returns once it is held."""
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, path, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


class CuttableProxy:
    """A TCP proxy in front of the database: `cut()` closes every connection and refuses new ones (the
    database is unreachable) until `restore()`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.port = self.server.address[1]
        self.links: set[socket.socket] = set()
        self.cut_at: float | None = None

    def _handle(self, client, _address) -> None:
        if self.cut_at is not None:
            client.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        self.links.update((client, upstream))
        pump = gevent.spawn(self._pump, upstream, client)
        self._pump(client, upstream)
        pump.join()

    def _pump(self, src, dst) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self.links.discard(s)
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        self.cut_at = time.monotonic()
        for s in list(self.links):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.links.clear()

    def restore(self) -> None:
        self.cut_at = None

    def close(self) -> None:
        self.cut()
        self.server.stop(timeout=1)
