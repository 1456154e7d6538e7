"""One blocking ESL login for `jinqiao serve --check`: connect, answer the auth request, report the verdict."""
from __future__ import annotations

import enum
import socket

from engine.esl import commands
from engine.esl.events import AuthRequest, CommandReply, RudeRejection, classify
from engine.esl.protocol import Parser, ProtocolError, encode_command


class LoginResult(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"  # the password was refused
    REJECTED = "rejected"  # the ACL refused this host
    UNREACHABLE = "unreachable"  # no connection or no usable answer: the password was not checked


def try_login(host: str, port: int, password: str, timeout: float) -> tuple[LoginResult, str]:
    """Log in once (plain sockets, no gevent needed); returns the result and FreeSWITCH's or the OS's words."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return LoginResult.UNREACHABLE, str(exc.strerror or exc)
    parser = Parser()
    sent = False
    try:
        with sock:
            sock.settimeout(timeout)
            while True:
                data = sock.recv(65536)
                if not data:
                    return LoginResult.UNREACHABLE, "closed the connection before answering"
                for message in map(classify, parser.feed(data)):
                    if isinstance(message, RudeRejection):
                        return LoginResult.REJECTED, message.message.strip()
                    if isinstance(message, AuthRequest) and not sent:
                        sock.sendall(encode_command(commands.auth(password)))
                        sent = True
                    elif isinstance(message, CommandReply) and sent:
                        return (LoginResult.ACCEPTED if message.ok else LoginResult.REFUSED), message.text
    except (OSError, ProtocolError, ValueError) as exc:
        return LoginResult.UNREACHABLE, f"no usable answer ({exc})"
