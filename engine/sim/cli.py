"""`jinqiao sim run`: start the FreeSWITCH simulator standalone, optionally placing a load of scripted calls."""
from __future__ import annotations

import gc
import logging
import sys
import time

import click

log = logging.getLogger(__name__)


def _parse_route(value: str) -> tuple[str, str]:
    did, sep, target = value.partition("=")
    if not sep or not did or not target:
        raise click.BadParameter("expected DID=host:port[ mode], e.g. 5000=127.0.0.1:8084")
    if " " not in target:
        target += " async full"
    return did, target


def _parse_endpoint(value: str) -> tuple[str, float | None]:
    ext, sep, after = value.partition(":")
    if not ext:
        raise click.BadParameter("expected EXT[:answer_after]")
    if not sep:
        return ext, 1.0
    if after in ("never", "none"):
        return ext, None
    try:
        return ext, float(after)
    except ValueError as exc:
        raise click.BadParameter("answer_after must be a number of seconds or 'never'") from exc


@click.group("sim")
def sim() -> None:
    """FreeSWITCH simulator (ESL on loopback) for tests, benchmarks and the demo."""


@sim.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Inbound ESL listen address.")
@click.option("--port", default=8021, show_default=True, type=click.IntRange(0, 65535),
              help="Inbound ESL port (0 = any free).")
@click.option("--password", envvar="JINQIAO_SIM_PASSWORD", required=True, help="ESL password "
              "(or JINQIAO_SIM_PASSWORD).")
@click.option("--time-scale", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Multiply every duration.")
@click.option("--sounds-dir", default=None, help="Directory for relative sound paths.")
@click.option("--route", "routes", multiple=True, help="DID=host:port: calls to DID run `socket host:port "
              "async full`.")
@click.option("--endpoint", "endpoints", multiple=True, help="EXT[:answer_after|never]: a registered user/EXT.")
@click.option("--calls", default=0, type=click.IntRange(min=0), help="Load mode: place this many calls, then exit.")
@click.option("--did", default=None, help="Load mode: DID to call.")
@click.option("--caller-prefix", default="1380000", show_default=True, help="Load mode: caller number prefix.")
@click.option("--digits", default="", help="Load mode: DTMF each caller presses 1 s after answer.")
@click.option("--concurrency", default=100, show_default=True, type=click.IntRange(min=1),
              help="Load mode: calls at once.")
@click.option("--cps", default=400.0, show_default=True, type=float,
              help="Load mode: new calls per second (FreeSWITCH's sessions-per-second cap; 0 = no cap).")
@click.option("--hangup-after", default=120.0, show_default=True, type=float,
              help="Load mode: callers hang up after this many (unscaled) seconds if still up.")
@click.option("--verbose", is_flag=True, help="Debug logging.")
def run(host: str, port: int, password: str, time_scale: float, sounds_dir: str | None, routes: tuple[str, ...],
        endpoints: tuple[str, ...], calls: int, did: str | None, caller_prefix: str, digits: str,
        concurrency: int, cps: float, hangup_after: float, verbose: bool) -> None:
    """Serve inbound ESL; with --calls, place a load and print one summary line when done."""
    from gevent import monkey
    if not monkey.is_module_patched("socket"):
        monkey.patch_all(thread=False, subprocess=False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from engine.sim import FreeSwitchSim
    parsed_routes = [_parse_route(r) for r in routes]
    parsed_eps = [_parse_endpoint(e) for e in endpoints]
    if calls and not did:
        raise click.UsageError("--calls needs --did")
    fs = FreeSwitchSim(password=password, time_scale=time_scale, host=host, port=port, sounds_dir=sounds_dir)
    for d, target in parsed_routes:
        fs.route(d, socket=target)
    for ext, after in parsed_eps:
        fs.add_endpoint(ext, answer_after=after)
    # thousands of live channels make full GC passes long: collect the young generation less often
    gc.set_threshold(50000, 50, 100)
    fs.start()
    click.echo("sim: listening on %s:%d time_scale=%g" % (fs.address[0], fs.address[1], time_scale), err=True)
    try:
        if calls:
            summary = load(fs, calls, did or "", caller_prefix, digits, concurrency, hangup_after, cps)
            click.echo(summary)
            if " failed=0 " not in summary:
                sys.exit(1)  # a load in which calls failed is not a success
        else:
            import gevent
            while True:
                gevent.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fs.stop()


def load(fs, calls: int, did: str, prefix: str, digits: str, concurrency: int, hangup_after: float,
         cps: float = 0.0) -> str:
    """Place `calls` scripted calls, at most `concurrency` at once and `cps` new ones per second (real time).

    Returns the summary line.
    """
    import gevent
    from gevent.pool import Pool

    from engine.sim import Hangup, Press
    pool = Pool(max(1, concurrency))
    results = {"completed": 0, "failed": 0, "answered": 0}
    causes: dict[str, int] = {}
    start = time.monotonic()

    def one(i: int) -> None:
        script = ([Press(digits, at=1.0)] if digits else []) + [Hangup(at=hangup_after)]
        call = fs.place_call(did, "%s%04d" % (prefix, i % 10000), script=script)
        limit = fs.switch.scaled(hangup_after + 60) + 30
        if not call.wait_hangup(limit):
            results["failed"] += 1
            return
        call.wait_destroyed(10)
        cause = call.hangup_cause
        causes[cause] = causes.get(cause, 0) + 1
        if call.channel.answered:
            results["answered"] += 1
        if cause == "NORMAL_CLEARING" and call.channel.answered:
            results["completed"] += 1
        else:
            results["failed"] += 1
    for i in range(calls):
        if cps > 0:
            ahead = start + i / cps - time.monotonic()
            if ahead > 0:
                gevent.sleep(ahead)
        pool.spawn(one, i)
    pool.join()
    gevent.sleep(0)
    elapsed = time.monotonic() - start
    return ("sim_load: calls=%d completed=%d failed=%d answered=%d elapsed_s=%.2f causes=%s"
            % (calls, results["completed"], results["failed"], results["answered"], elapsed,
               ",".join("%s:%d" % kv for kv in sorted(causes.items()))))


if __name__ == "__main__":  # pragma: no cover
    sim()
