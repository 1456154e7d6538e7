"""Event ingest rate: Jinqiao's inbound connection versus greenswitch's InboundESL on the same stream.

A child process plays FreeSWITCH: it authenticates the client, acknowledges the subscription and then
writes a recorded event stream as fast as the socket takes it. The stream is every event of the real
captures in ../shared/fs-captures (CHANNEL_*, DTMF, PLAYBACK, BACKGROUND_JOB, HEARTBEAT, CUSTOM...),
re-serialized in plain and JSON exactly as FreeSWITCH does, repeated to --events events. Each client
counts events in a handler that reads what a dispatcher reads (event name and channel UUID); the rate is events / seconds from connect to the last event.
greenswitch always reads plain (it cannot parse event-json), so both ratios use its plain rate. Each
client runs --runs times (default 2) on the same stream and its best run counts, for both alike (the
first run of a process pays for warming up memory).
Last two lines: `esl_ingest_json: jinqiao=<ev/s> greenswitch=<ev/s> ratio=<x>` and the same for plain.

First line, before any socket: the parser's cost for one 1 MiB header block arriving in 64-byte pieces
versus the same block in one piece (`esl_header_pieces: pieces=<ms> whole=<ms> ratio=<x>`); linear parsing
keeps the ratio at the per-call overhead of 16,384 feeds, where re-joining the buffer on every read made
it quadratic. `--header-only` prints just that line.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event as Flag  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.esl.connection import InboundConnection  # noqa: E402
from engine.esl.events import Event, classify  # noqa: E402
from engine.esl.protocol import Parser  # noqa: E402
from engine.sim import wire as fs_wire  # noqa: E402

CAPTURES = ROOT.parent / "shared" / "fs-captures"


def recorded_events() -> list[Event]:
    events: list[Event] = []
    for stream in sorted(CAPTURES.glob("**/from_fs.bin")):
        for frame in Parser().feed(stream.read_bytes()):
            message = classify(frame)
            if isinstance(message, Event):
                events.append(message)
    return events


def build_stream(fmt: str, count: int) -> bytes:
    frames = []
    for event in recorded_events():
        headers = [(k, v) for k, v in event.headers.items() if k != "Content-Length"]
        frames.append(fs_wire.Event(event.name, headers, event.body or "").frame(fmt))
    out = bytearray()
    for i in range(count):
        out += frames[i % len(frames)]
    return bytes(out)


def fake_freeswitch(port_queue, fmt: str, count: int) -> None:
    stream = build_stream(fmt, count)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port_queue.put(server.getsockname()[1])
    while True:
        conn, _ = server.accept()
        conn.sendall(b"Content-Type: auth/request\n\n")
        buf = b""
        while b"\n\n" not in buf:
            buf += conn.recv(4096)
        conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        buf = buf.split(b"\n\n", 1)[1]
        while b"\n\n" not in buf:
            buf += conn.recv(4096)
        conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled %s\n\n" % fmt.encode())
        conn.sendall(stream)
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass
        conn.close()


def start_server(fmt: str, count: int):
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=fake_freeswitch, args=(queue, fmt, count), daemon=True)
    process.start()
    return process, queue.get(timeout=120)


def run_jinqiao(port: int, fmt: str, count: int) -> float:
    done, seen = Flag(), [0]

    routed: dict[str, int] = {}

    def handler(event) -> None:
        # What the engine's dispatcher reads of every event: its name and its channel.
        key = event.unique_id or event.name
        routed[key] = routed.get(key, 0) + 1
        seen[0] += 1
        if seen[0] == count:
            done.set()

    started = time.perf_counter()
    connection = InboundConnection("127.0.0.1", port, "ClueCon", event_format=fmt, heartbeat_timeout=120)
    connection.add_handler(handler)
    connection.start()
    if not done.wait(600):
        raise SystemExit(f"jinqiao received only {seen[0]} of {count} events")
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


def run_greenswitch(port: int, count: int) -> float:
    import greenswitch

    done, seen = Flag(), [0]

    routed: dict[str, int] = {}

    def handler(event) -> None:
        key = event.headers.get("Unique-ID") or event.headers.get("Event-Name")
        routed[key] = routed.get(key, 0) + 1
        seen[0] += 1
        if seen[0] == count:
            done.set()

    started = time.perf_counter()
    client = greenswitch.InboundESL("127.0.0.1", port, "ClueCon")
    client.connect()
    client.register_handle("*", handler)
    client.send("event plain ALL")
    if not done.wait(1800):
        raise SystemExit(f"greenswitch received only {seen[0]} of {count} events")
    elapsed = time.perf_counter() - started
    client._run = False
    client.sock.shutdown(socket.SHUT_RDWR)  # its makefile() keeps the fd open: shut the connection down
    client.sock.close()
    return count / elapsed


def header_in_pieces(total: int = 1 << 20, piece: int = 64) -> tuple[float, float]:
    """Seconds to parse one `total`-byte header block fed in `piece`-byte chunks, and fed whole (best of 3)."""
    line = b"X-Junk: " + b"a" * 119 + b"\n"
    block = b"Content-Type: command/reply\n" + line * ((total - 64) // len(line)) + b"Reply-Text: +OK\n\n"
    chunks = [block[i:i + piece] for i in range(0, len(block), piece)]

    def run(parts: list[bytes]) -> float:
        parser = Parser(max_header_bytes=2 * total)
        started = time.perf_counter()
        frames = []
        for part in parts:
            frames.extend(parser.feed(part))
        elapsed = time.perf_counter() - started
        assert len(frames) == 1 and frames[0].reply_text == "+OK"
        return elapsed

    return min(run(chunks) for _ in range(3)), min(run([block]) for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2, help="runs per client; the best one counts (for both)")
    parser.add_argument("--header-only", action="store_true", help="only the header-in-pieces figure")
    args = parser.parse_args()
    pieces, whole = header_in_pieces()
    print(f"esl_header_pieces: 1MiB_in_64B_pieces={pieces * 1000:.1f}ms one_piece={whole * 1000:.1f}ms "
          f"ratio={pieces / whole:.1f}", flush=True)
    if args.header_only:
        return
    rates: dict[str, float] = {}
    for fmt in ("json", "plain"):
        process, port = start_server(fmt, args.events)
        rates[f"jinqiao_{fmt}"] = max(run_jinqiao(port, fmt, args.events) for _ in range(args.runs))
        if fmt == "plain":
            rates["greenswitch"] = max(run_greenswitch(port, args.events) for _ in range(args.runs))
        process.terminate()
        print(f"# {fmt}: jinqiao {rates[f'jinqiao_{fmt}']:.0f} ev/s", flush=True)
    print(f"# greenswitch (plain): {rates['greenswitch']:.0f} ev/s over {args.events} events", flush=True)
    for fmt in ("json", "plain"):
        ours = rates[f"jinqiao_{fmt}"]
        print(f"esl_ingest_{fmt}: jinqiao={ours:.0f} greenswitch={rates['greenswitch']:.0f} "
              f"ratio={ours / rates['greenswitch']:.2f}")


if __name__ == "__main__":
    main()
