"""`jinqiao sim run` (the FreeSWITCH simulator standalone, optionally placing a load) and `jinqiao sim call`."""
from __future__ import annotations

import gc
import logging
import sys
import time

import click

from engine.sim.listening import parse_keys

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
@click.option("--population", default=None, metavar="SPEC", help="Dialled numbers without a set destination "
              "follow a seeded called-party population, e.g. answer=0.3,machine=0.1,busy=0.05,unallocated=0.02,seed=7 "
              "(see engine/sim/README.md).")
@click.option("--calls", default=0, type=click.IntRange(min=0), help="Load mode: place this many calls, then exit.")
@click.option("--did", default=None, help="Load mode: DID to call.")
@click.option("--caller-prefix", default="1380000", show_default=True, help="Load mode: caller number prefix.")
@click.option("--digits", default="", help="Load mode: keys each caller presses, as for `sim call --keys` "
              "(each group when the flow next listens for digits, or GROUP@SECONDS after answer).")
@click.option("--concurrency", default=100, show_default=True, type=click.IntRange(min=1),
              help="Load mode: calls at once.")
@click.option("--cps", default=400.0, show_default=True, type=float,
              help="Load mode: new calls per second (FreeSWITCH's sessions-per-second cap; 0 = no cap).")
@click.option("--hangup-after", default=120.0, show_default=True, type=float,
              help="Load mode: callers hang up after this many (unscaled) seconds if still up.")
@click.option("--control", default=None, metavar="PATH", help="Unix socket for `jinqiao sim call` (default: "
              "$XDG_RUNTIME_DIR or the temp dir, jinqiao-sim-<uid>/<port>.sock).")
@click.option("--no-control", is_flag=True, help="Do not open the `sim call` control socket.")
@click.option("--verbose", is_flag=True, help="Debug logging.")
def run(host: str, port: int, password: str, time_scale: float, sounds_dir: str | None, routes: tuple[str, ...],
        endpoints: tuple[str, ...], population: str | None, calls: int, did: str | None, caller_prefix: str, digits: str,
        concurrency: int, cps: float, hangup_after: float, control: str | None, no_control: bool,
        verbose: bool) -> None:
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
    try:
        parse_keys(digits)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--digits") from None
    from engine.sim.population import Population
    try:
        parsed_population = Population.parse(population) if population else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--population") from None
    fs = FreeSwitchSim(password=password, time_scale=time_scale, host=host, port=port, sounds_dir=sounds_dir)
    fs.set_population(parsed_population)
    for d, target in parsed_routes:
        fs.route(d, socket=target)
    for ext, after in parsed_eps:
        fs.add_endpoint(ext, answer_after=after)
    # thousands of live channels make full GC passes long: collect the young generation less often
    gc.set_threshold(50000, 50, 100)
    fs.start()
    click.echo("sim: listening on %s:%d time_scale=%g" % (fs.address[0], fs.address[1], time_scale), err=True)
    call_control = None
    if not no_control:
        from engine.sim.callcontrol import CallControl, CallControlError, default_control_path
        try:
            call_control = CallControl(fs, control or default_control_path(fs.address[1])).start()
            click.echo("sim: `jinqiao sim call` control socket %s" % call_control.path, err=True)
        except (CallControlError, OSError) as exc:
            if control:
                fs.stop()
                raise click.UsageError("--control: %s" % exc) from None
            click.echo("sim: no `sim call` control socket: %s" % exc, err=True)
    try:
        if calls:
            summary = load(fs, calls, did or "", caller_prefix, digits, concurrency, hangup_after, cps)
            click.echo(summary)
            if " failed=0 " not in summary:
                sys.exit(1)  # a load in which calls failed is not a success
        else:
            import signal

            import gevent
            from gevent.event import Event
            stopped = Event()
            gevent.signal_handler(signal.SIGTERM, stopped.set)  # stop as on Ctrl-C: the socket file is removed
            stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if call_control is not None:
            call_control.stop()
        fs.stop()


def load(fs, calls: int, did: str, prefix: str, digits: str, concurrency: int, hangup_after: float,
         cps: float = 0.0) -> str:
    """Place `calls` scripted calls, at most `concurrency` at once and `cps` new ones per second (real time).

    Returns the summary line.
    """
    import gevent
    from gevent.pool import Pool

    from engine.sim import Hangup
    from engine.sim.listening import press_keys
    presses = parse_keys(digits)
    pool = Pool(max(1, concurrency))
    results = {"completed": 0, "failed": 0, "answered": 0}
    causes: dict[str, int] = {}
    start = time.monotonic()

    def one(i: int) -> None:
        call = fs.place_call(did, "%s%04d" % (prefix, i % 10000), script=[Hangup(at=hangup_after)])
        if presses:
            gevent.spawn(press_keys, call.channel, presses)
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


@sim.command("call")
@click.option("--to", "to", required=True, metavar="DID", help="The number called (a DID routed to the engine).")
@click.option("--from", "caller", required=True, metavar="NUMBER", help="The caller's number.")
@click.option("--keys", default="", metavar="GROUPS", help="Comma-separated key groups, e.g. 1,880012345678#,9: "
              "each is pressed when the flow next listens for digits; GROUP@SECONDS presses it that many seconds "
              "after answer instead.")
@click.option("--name", default="", help="The caller's name (caller id name).")
@click.option("--hangup-after", default=300.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Hang up after this many (unscaled) seconds if the flow has not ended the call.")
@click.option("--port", default=8021, show_default=True, type=click.IntRange(0, 65535),
              help="Inbound ESL port of the `sim run` to use (names its default control socket).")
@click.option("--control", default=None, metavar="PATH", help="The control socket of `sim run --control PATH`.")
@click.option("--wait-store", default=5.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to wait after hang-up for the engine to store the call's path.")
def call(to: str, caller: str, keys: str, name: str, hangup_after: float, port: int, control: str | None,
         wait_store: float) -> None:
    """Place one call into a running `jinqiao sim run` that an engine is attached to, and print what the
    caller heard and pressed and the path the flow took.

    \b
    Try a flow without a phone:
      jinqiao sim run --password P --route 4000=127.0.0.1:8084     # terminal 1: the simulated switch
      jinqiao serve                # terminal 2: the engine, config pointing at 127.0.0.1:8021 / password P
      jinqiao sim call --to 4000 --from 13800138000 --keys 1,5     # terminal 3

    The call reaches the engine as any caller's would. The path, keys and outcome come from the engine's
    store (read with this command's config, so give it the engine's: --config or $JINQIAO_CONFIG).
    Prompts from the TTS cache are shown by their text when it is a static text of the configured flows.
    Exit code 1 when the call could not be placed, 2 when no simulator answers on the control socket.
    """
    from engine.clicontext import current_config
    from engine.sim.callcontrol import default_control_path, request_call
    from engine.sim.callreport import describe, stored_path, tts_texts

    try:
        parse_keys(keys)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--keys") from None
    config = current_config()
    path = control or default_control_path(port)
    prompts = tts_texts(config)
    request = {"to": to, "from": caller, "name": name, "keys": keys, "hangup_after": hangup_after}
    call_id = ""
    try:
        for reply in request_call(path, request):
            line = describe(reply, prompts)
            if line is not None:
                click.echo(line)
            if reply.get("event") == "placed":
                call_id = reply["uuid"]
            if reply.get("event") == "error":
                sys.exit(1)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        click.echo("jinqiao: no simulator on %s (%s): start `jinqiao sim run` first, with the engine attached"
                   % (path, exc.strerror), err=True)
        sys.exit(2)
    if not call_id:
        click.echo("jinqiao: the simulator closed the control socket before placing the call", err=True)
        sys.exit(1)
    for line in stored_path(config, call_id, wait=wait_store):
        click.echo(line)


if __name__ == "__main__":  # pragma: no cover
    sim()
