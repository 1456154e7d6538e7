"""The simulator's call-control socket: `jinqiao sim call` asks a running `jinqiao sim run` to place one call.

How it works: this is not part of FreeSWITCH and the engine never sees it. `sim run` listens on a Unix
socket (mode 0600, in a directory only its user may enter); a client sends one JSON request line
(`{"to": DID, "from": NUMBER, "keys": "1,2@5"}`) and gets JSON lines back as the call goes on:
`placed`, `answered`, `app` (every application the switch ran), `heard` (each file played, or the text of
`speak`), `pressed`, and last `hangup` (cause and the `jq_*` variables the engine set). The call is an
ordinary inbound call to the DID, so the engine attached to the simulator handles it like any other.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import stat
import tempfile
from typing import Any, Iterator

import gevent
from gevent import socket as gsocket
from gevent.server import StreamServer

from engine.sim.listening import KeyPress, parse_keys, press_keys

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4096
REQUEST_TIMEOUT = 10.0  # a client has this long to send its request line
POLL_SECONDS = 0.02
_NUMBER = re.compile(r"\+?[0-9A-Za-z*#_.-]{1,64}")
ENGINE_VARIABLE_PREFIX = "jq_"


class CallControlError(Exception):
    """The control socket cannot be used (path taken, unsafe directory, bad request); the message says why."""


def default_control_path(port: int) -> str:
    """`$XDG_RUNTIME_DIR/jinqiao-sim-<uid>/<esl port>.sock` (the temp dir when XDG_RUNTIME_DIR is unset)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return os.path.join(base, f"jinqiao-sim-{os.getuid()}", f"{port}.sock")


def _private_dir(path: str) -> None:
    """Create the socket's directory 0700, or refuse one that another user owns or others may write."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise CallControlError(f"{directory}: not a directory of this user that only it may write; "
                               "choose another --control path")


def parse_request(line: bytes) -> dict[str, Any]:
    """Validate a request line; raises CallControlError naming the bad field."""
    try:
        request = json.loads(line)
    except ValueError as exc:
        raise CallControlError(f"request is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise CallControlError("request must be a JSON object")
    for field in ("to", "from"):
        value = request.get(field)
        if not isinstance(value, str) or not _NUMBER.fullmatch(value):
            raise CallControlError(f"{field}: expected a number or extension (0-9 A-Z * # + _ . -, at most 64), "
                                   f"got {value!r}")
    name = request.get("name", "")
    if not isinstance(name, str) or len(name) > 64 or any(ord(c) < 32 or c == "\x7f" for c in name):
        raise CallControlError("name: expected at most 64 printable characters")
    keys = request.get("keys", "")
    if not isinstance(keys, str):
        raise CallControlError("keys: expected text such as \"1,2@5\"")
    try:
        request["presses"] = parse_keys(keys)
    except ValueError as exc:
        raise CallControlError(f"keys: {exc}") from None
    hangup_after = request.get("hangup_after", 300)
    if isinstance(hangup_after, bool) or not isinstance(hangup_after, (int, float)) or hangup_after <= 0:
        raise CallControlError(f"hangup_after: expected a positive number of seconds, got {hangup_after!r}")
    request["hangup_after"] = float(hangup_after)
    return request


class CallControl:
    """Serves call requests for one FreeSwitchSim on a Unix socket."""

    def __init__(self, fs: Any, path: str) -> None:
        self.fs = fs
        self.path = os.path.abspath(path)
        self._server: StreamServer | None = None

    def start(self) -> "CallControl":
        _private_dir(self.path)
        if os.path.lexists(self.path):
            if not stat.S_ISSOCK(os.lstat(self.path).st_mode):
                raise CallControlError(f"{self.path}: exists and is not a socket")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.path)
            except OSError:
                os.unlink(self.path)  # left behind by a simulator that is gone
            else:
                raise CallControlError(f"{self.path}: another simulator is serving it")
            finally:
                probe.close()
        listener = gsocket.socket(gsocket.AF_UNIX, gsocket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(self.path)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        listener.listen(16)
        self._server = StreamServer(listener, self._handle)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def _handle(self, sock: Any, _address: Any) -> None:
        out = sock.makefile("wb")

        def send(event: str, **fields: Any) -> None:
            out.write(json.dumps({"event": event, **fields}, ensure_ascii=False).encode("utf-8") + b"\n")
            out.flush()
        try:
            sock.settimeout(REQUEST_TIMEOUT)
            line = sock.makefile("rb").readline(MAX_REQUEST_BYTES + 1)
            sock.settimeout(None)
            if len(line) > MAX_REQUEST_BYTES:
                raise CallControlError("request line too long")
            request = parse_request(line)
            self._run_call(request, send, sock)
        except CallControlError as exc:
            send("error", message=str(exc))
        except OSError:  # the client went away (Ctrl-C): its caller hangs up
            log.info("sim call control: client disconnected")
        finally:
            sock.close()

    def _run_call(self, request: dict[str, Any], send: Any, sock: Any) -> None:
        from engine.sim.control import Hangup

        call = self.fs.place_call(request["to"], request["from"], request.get("name") or "",
                                  script=[Hangup(at=request["hangup_after"], from_start=True)])
        ch = call.channel
        pressed: list[KeyPress] = []
        driver = gevent.spawn(press_keys, ch, request["presses"], pressed.append)
        watcher = gevent.spawn(_hang_up_when_client_leaves, sock, ch)
        send("placed", uuid=call.uuid, to=request["to"], caller=request["from"])
        try:
            self._follow(ch, pressed, send)
        except OSError:
            if ch.up:
                ch.hangup("NORMAL_CLEARING")
            raise
        finally:
            driver.kill(block=False)
            watcher.kill(block=False)
        variables = {k: v for k, v in ch.variables.items() if k.startswith(ENGINE_VARIABLE_PREFIX)}
        send("hangup", cause=ch.hangup_cause, variables=variables, unpressed=len(request["presses"]) - len(pressed))

    @staticmethod
    def _follow(ch: Any, pressed: list[KeyPress], send: Any) -> None:
        """Report the call's progress until it has hung up and everything it did has been sent."""
        apps = played = presses = 0
        answered = False
        while True:
            done = not ch.up
            if ch.answered and not answered:
                answered = True
                send("answered")
            while apps < len(ch.apps):
                name, arg = ch.apps[apps]
                apps += 1
                send("app", app=name, arg=arg)
                if name == "speak":
                    send("heard", text=arg.split("|", 2)[-1])
            while played < len(ch.played):
                send("heard", file=ch.played[played])
                played += 1
            while presses < len(pressed):
                send("pressed", digits=pressed[presses].digits)
                presses += 1
            if done:
                return
            gevent.sleep(POLL_SECONDS)


def _hang_up_when_client_leaves(sock: Any, ch: Any) -> None:
    """The client sends nothing after its request: end of stream means it left (Ctrl-C), so the caller hangs up."""
    try:
        sock.recv(1)
    except OSError:
        pass
    if ch.up:
        ch.hangup("NORMAL_CLEARING")


def request_call(path: str, request: dict[str, Any], timeout: float | None = None) -> Iterator[dict[str, Any]]:
    """Client side: send one request to the control socket at `path`, yield each reply as it arrives."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n")
        for line in sock.makefile("rb"):
            yield json.loads(line)
    finally:
        sock.close()
