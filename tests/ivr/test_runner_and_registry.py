"""The runner's handling of hang-ups, errors and limits; the registry's DID map and hot reload."""
from __future__ import annotations

import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.ivr.lookups import HttpLookup, LookupError_
from engine.ivr.registry import FlowRegistry
from engine.ivr.runner import FlowRunner
from tests.ivr.fakes import FakeChannel, FakeTts

MENU_LOOP = """\
start: m
nodes:
  m: {type: menu, prompt: 请选择, options: {1: c, 2: m}, on_failure: bye}
  c: {type: collect, prompt: 请输入, into: x, max_digits: 4, next: bye, on_failure: bye}
  bye: {type: hangup, prompt: 再见}
"""


@pytest.mark.parametrize("hang_up_at, last_node", [(1, None), (2, "m"), (3, "c"), (4, "bye")])
def test_caller_hanging_up_at_any_node_ends_the_flow_cleanly(harness, hang_up_at, last_node):
    harness.write("main", MENU_LOOP)
    channel, record = harness.call(["1", "1234"], hang_up_at=hang_up_at)
    assert record.ended_by_caller and record.outcome == "caller_hangup"
    assert (record.path[-1] if record.path else None) == last_node
    assert harness.log.records == [record] and record.ended_at is not None
    assert channel.names().count("hangup") == 0  # nothing sent after the caller left


def test_an_unexpected_error_in_a_node_hangs_up_and_is_recorded(harness):
    class ExplodingTts(FakeTts):
        def render_or_fallback(self, text, *, language="zh", fallback_path):
            raise RuntimeError("bug")

    harness.write("main", "start: a\nnodes:\n  a: {type: play, tts: hi, next: b}\n  b: {type: hangup}\n")
    harness.tts = ExplodingTts()  # the session guards TTS: the call goes on with silence
    channel, record = harness.call()
    assert record.outcome == "completed" and record.path == ["a", "b"]

    class ExplodingChannel(FakeChannel):
        def play(self, path, *, terminators="none"):
            raise KeyError("unexpected")

    harness.tts = FakeTts()
    channel = ExplodingChannel()
    record = harness.runner().run(channel)
    assert record.outcome == "error" and channel.hung_up and harness.log.records[-1] is record


def test_a_caller_looping_through_a_menu_is_stopped_by_the_step_limit(harness):
    harness.write("main", MENU_LOOP)
    channel, record = harness.call(["2"] * 2000)
    assert record.outcome == "step_limit" and len(record.path) == 1000 and channel.hung_up


def test_unknown_number_without_default_flow_is_hung_up(harness):
    harness.write("main", MENU_LOOP)
    registry = FlowRegistry(harness.flows_dir, dids={"4001": "main"})
    registry.reload()
    runner = FlowRunner(registry, FakeTts())
    channel = FakeChannel(destination_number="9999")
    assert runner.run(channel).outcome == "no_flow" and channel.names() == ["hangup"]
    assert runner.run(FakeChannel(["9", "9", "9"], destination_number="4001")).flow == "main"


def test_node_gap_observer_sees_one_gap_per_node_transition(harness):
    harness.write("main", MENU_LOOP)
    registry = FlowRegistry(harness.flows_dir, default_flow="main")
    registry.reload()
    gaps: list[float] = []
    FlowRunner(registry, FakeTts(), node_gap_observer=gaps.append).run(FakeChannel(["1", "1234"]))
    assert len(gaps) == 2 and all(0 <= g < 1 for g in gaps)  # m -> c -> bye


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def bump_mtime(path, seconds):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + int(seconds * 1e9)))


def test_registry_maps_dids_and_falls_back_to_the_default_flow(harness):
    harness.write("sales", "start: a\nnodes:\n  a: {type: hangup}\n")
    harness.write("main", "start: a\nnodes:\n  a: {type: hangup}\n")
    registry = FlowRegistry(harness.flows_dir, dids={4008001234: "sales"}, default_flow="main")
    assert registry.reload().ok
    assert registry.flow_for("4008001234").name == "sales"
    assert registry.flow_for("110").name == "main"
    assert FlowRegistry(harness.flows_dir).flow_for("110") is None


def test_registry_picks_up_an_edit_for_new_calls(harness):
    path = harness.write("main", "start: a\nnodes:\n  a: {type: play, tts: old, next: b}\n  b: {type: hangup}\n")
    clock = Clock()
    registry = FlowRegistry(harness.flows_dir, default_flow="main", check_interval=1.0, clock=clock)
    registry.reload()
    old = registry.flow_for("1")
    harness.write("main", "start: a\nnodes:\n  a: {type: play, tts: new, next: b}\n  b: {type: hangup}\n")
    bump_mtime(path, 5)
    assert registry.flow_for("1") is old  # checked at most once per check_interval
    registry.join()
    assert registry.flow_for("1") is old
    clock.t = 2.0
    assert registry.flow_for("1") is old  # the call that notices the change does not wait for the reload
    registry.join()
    new = registry.flow_for("1")
    assert new is not old and new.nodes["a"].tts.pick("zh").source == "new"


def test_a_broken_edit_keeps_the_previous_version_and_logs_the_errors(harness, caplog):
    path = harness.write("main", "start: a\nnodes:\n  a: {type: play, tts: old, next: b}\n  b: {type: hangup}\n")
    registry = FlowRegistry(harness.flows_dir, default_flow="main", check_interval=0.0)
    registry.reload()
    good = registry.flow_for("1")
    harness.write("main", "start: a\nnodes:\n  a: {type: play, tts: new, next: nowhere}\n")
    bump_mtime(path, 5)
    with caplog.at_level(logging.ERROR, logger="engine.ivr.registry"):
        assert registry.flow_for("1") is good
        registry.join()
        assert registry.flow_for("1") is good
    assert "main.yaml:3:" in caplog.text and "no node called 'nowhere'" in caplog.text
    assert "keeping the previous version" in caplog.text


def test_a_deleted_flow_is_unloaded(harness):
    path = harness.write("main", "start: a\nnodes:\n  a: {type: hangup}\n")
    registry = FlowRegistry(harness.flows_dir, default_flow="main", check_interval=0.0)
    registry.reload()
    path.unlink()
    registry.flow_for("1")
    registry.join()
    assert registry.flow_for("1") is None and registry.names == []


class JsonHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path.startswith("/slow"):
            threading.Event().wait(1)
        body = b'{"status": "ok"}' if self.path.startswith("/order/42") else b"[]"
        self.send_response(404 if self.path.startswith("/order/0") or self.path == "/order/0" else 200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_base():
    server = ThreadingHTTPServer(("127.0.0.1", 0), JsonHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_lookup_returns_objects_none_on_404_and_fails_on_timeout_or_non_objects(http_base):
    http = HttpLookup()
    assert http.get_json(f"{http_base}/order/42", 2.0) == {"status": "ok"}
    assert http.get_json(f"{http_base}/order/0", 2.0) is None
    with pytest.raises(LookupError_):
        http.get_json(f"{http_base}/list", 2.0)
    with pytest.raises(LookupError_, match="within"):
        http.get_json(f"{http_base}/slow", 0.2)
    with pytest.raises(LookupError_):
        http.get_json("file:///etc/passwd", 1.0)


def test_http_lookup_node_reads_the_business_system_and_survives_it_hanging(harness, http_base):
    def lookup_flow(path: str) -> str:
        url = f"{http_base}/{path}/{{{{ call.caller_number|urlencode }}}}"
        return ("start: l\nnodes:\n"
                f'  l: {{type: lookup, source: http, url: "{url}", timeout: 0.3, into: order,'
                " next: ok, on_not_found: nf, on_failure: err}\n"
                '  ok: {type: play, tts: "{{ vars.order.status }}", next: bye}\n'
                "  nf: {type: play, tts: nf, next: bye}\n  err: {type: play, tts: err, next: bye}\n"
                "  bye: {type: hangup}\n")

    for path, caller, expected in (("order", "42", "ok"), ("order", "0", "nf"), ("slow", "42", "err")):
        harness.write("main", lookup_flow(path))
        channel, _ = harness.call(caller_number=caller)
        assert channel.played == [f"tts:zh:{expected}"], path


def test_ivr_ports_import_no_freeswitch_or_simulator_code():
    import subprocess
    import sys

    code = ("import sys, engine.ivr.ports, engine.ivr.store_adapter; "
            "print([m for m in ('gevent.socket', 'engine.esl.protocol', 'engine.esl.connection', 'engine.sim')"
            " if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_registry_runs_a_flow_with_an_unknown_queue_but_logs_it(harness, caplog):
    harness.write("main", "start: q\nnodes:\n  q: {type: queue, queue: sales, on_failure: b}\n  b: {type: hangup}\n")
    registry = FlowRegistry(harness.flows_dir, default_flow="main", queues={"support"})
    with caplog.at_level(logging.ERROR, logger="engine.ivr.registry"):
        report = registry.reload()
    assert report.ok and registry.flow_for("1") is not None
    assert "unknown queue 'sales' (acd.queues: support)" in caplog.text


def test_http_lookup_without_monkey_patching_runs_in_the_thread_pool(http_base, monkeypatch):
    import gevent.monkey

    monkeypatch.setattr(gevent.monkey, "is_module_patched", lambda name: False)
    http = HttpLookup()
    assert http.get_json(f"{http_base}/order/42", 2.0) == {"status": "ok"}
    with pytest.raises(LookupError_, match="within"):
        http.get_json(f"{http_base}/slow", 0.2)


def test_an_editor_lock_file_beside_the_flows_does_not_unload_them(harness):
    path = harness.write("main", "start: a\nnodes:\n  a: {type: hangup}\n")
    registry = FlowRegistry(harness.flows_dir, default_flow="main", check_interval=0.0)
    registry.reload()
    os.symlink("user@host.1234:1700000000", harness.flows_dir / ".#main.yaml")  # what Emacs leaves while editing
    bump_mtime(path, 5)
    registry.flow_for("1")
    registry.join()
    assert registry.flow_for("1") is not None and registry.names == ["main"]
    assert registry.last_report is not None and registry.last_report.ok


def test_a_flows_directory_that_disappears_keeps_the_running_flows_and_logs_it(harness, caplog):
    harness.write("main", "start: a\nnodes:\n  a: {type: hangup}\n")
    registry = FlowRegistry(harness.flows_dir, default_flow="main", check_interval=0.0)
    registry.reload()
    moved = harness.flows_dir.with_name("flows-being-redeployed")
    harness.flows_dir.rename(moved)
    with caplog.at_level(logging.ERROR, logger="engine.ivr.registry"):
        assert registry.flow_for("1") is not None
        registry.join()
        assert registry.flow_for("1") is not None
    assert "cannot read the flows directory" in caplog.text and "keeping" in caplog.text
    moved.rename(harness.flows_dir)
    assert registry.flow_for("1") is not None


ALIAS_BOMB = "start: a\nnodes:\n  a: {type: hangup}\n" + "l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}, *l{i - 1}]\n"
    for i in range(1, 10))


@pytest.mark.timeout(30)
def test_an_alias_bomb_dropped_into_a_running_engine_keeps_the_flows_and_is_refused_at_once(harness, caplog):
    # Given a running registry serving "main"
    harness.write("main", "start: a\nnodes:\n  a: {type: hangup}\n")
    registry = FlowRegistry(harness.flows_dir, default_flow="main", check_interval=0.0)
    registry.reload()
    good = registry.flow_for("1")
    # When a "billion laughs" file replaces it (expanded, it would be 9**10 items)
    path = harness.write("main", ALIAS_BOMB)
    bump_mtime(path, 5)
    with caplog.at_level(logging.ERROR, logger="engine.ivr.registry"):
        assert registry.flow_for("1") is good
        registry.join()
    # Then the previous version keeps serving and the refusal names file, line and column
    assert registry.flow_for("1") is good
    assert "main.yaml:5:" in caplog.text and "aliases (*l0) are not allowed" in caplog.text


def test_a_reload_that_fails_unexpectedly_keeps_the_previous_flows(harness, monkeypatch, caplog):
    import engine.ivr.registry as registry_module

    path = harness.write("main", "start: a\nnodes:\n  a: {type: hangup}\n")
    registry = FlowRegistry(harness.flows_dir, default_flow="main", check_interval=0.0)
    registry.reload()
    good = registry.flow_for("1")

    def explode(*args, **kwargs):
        raise RecursionError("a loader defect")

    monkeypatch.setattr(registry_module, "validate_paths", explode)
    bump_mtime(path, 5)
    with caplog.at_level(logging.ERROR, logger="engine.ivr.registry"):
        assert registry.flow_for("1") is good
        registry.join()
        assert registry.flow_for("1") is good
    assert "keeping the 1 flows loaded" in caplog.text
    assert registry.last_report is not None and "RecursionError" in str(registry.last_report.errors[0])


def test_a_call_never_runs_the_reload_itself(harness):
    # Given a registry whose background runner only records the jobs handed to it
    harness.write("main", "start: a\nnodes:\n  a: {type: hangup}\n")
    from engine.ivr.registry import run_inline

    jobs = []
    registry = FlowRegistry(harness.flows_dir, default_flow="main", check_interval=0.0,
                            background=lambda job: jobs.append(job) or run_inline(lambda: None))
    registry.reload()
    good = registry.flow_for("1")
    # When the flow is broken on disk, calls still get the loaded flow without loading anything
    harness.write("main", "start: [")
    assert registry.flow_for("1") is good and len(jobs) == 2
    # Then the job, run later, reports the error and keeps the flow
    jobs[-1]()
    assert registry.flow_for("1") is good and not registry.last_report.ok


@pytest.mark.parametrize("content, message", [
    ("start: a\nnodes:\n  a: {type: hangup}\nvars: " + "[" * 3000 + "]" * 3000 + "\n", "nest"),
    ("start: a\nnodes:\n  a: {type: hangup}\n? [x]\n: y\n", "complex mapping keys"),
    ("start: a\nnodes:\n  a: {type: hangup}\nvars: {d: 2024-02-30}\n", "invalid timestamp value"),
    ("start: a\nnodes:\n  a: {type: hangup}\nvars: {n: " + "7" * 5000 + "}\n", "number too long"),
])
def test_a_broken_file_dropped_into_a_running_engine_is_located_and_the_flow_keeps_serving(harness, caplog,
                                                                                           content, message):
    path = harness.write("main", "start: a\nnodes:\n  a: {type: hangup}\n")
    registry = FlowRegistry(harness.flows_dir, default_flow="main", check_interval=0.0)
    registry.reload()
    good = registry.flow_for("1")
    path.write_text(content, encoding="utf-8")
    bump_mtime(path, 5)
    with caplog.at_level(logging.ERROR, logger="engine.ivr.registry"):
        assert registry.flow_for("1") is good
        registry.join()
        assert registry.flow_for("1") is good
    [error] = registry.last_report.errors
    assert str(error).startswith(f"{path}:") and message in str(error)
    assert "keeping the previous version" in caplog.text
