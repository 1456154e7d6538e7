"""Nodes when their backends misbehave: a hanging database or store, a vanished audio file; masked logs."""
from __future__ import annotations

import time

import gevent

from tests.ivr.fakes import FakeChannel, Harness


def flow(body: str, start: str = "a") -> str:
    return f"start: {start}\nnodes:\n{body}  bye: {{type: hangup}}\n"


class HangingDirectory:
    """A customer database that never answers (a locked table, a dead connection without a socket timeout)."""

    def find_by_phone(self, number):
        gevent.sleep(60)

    def find_by_reference(self, kind, value):
        gevent.sleep(60)


def test_a_customer_lookup_that_hangs_gives_up_at_its_timeout_and_takes_on_failure(harness):
    harness.directory = HangingDirectory()
    harness.write("main", flow(
        "  l: {type: lookup, source: customer, timeout: 0.2, next: bye, on_not_found: nf, on_failure: err}\n"
        '  l2: {type: lookup, source: customer, by: account, key: "1", timeout: 0.2, next: bye, on_not_found: nf,'
        " on_failure: err2}\n"
        "  nf: {type: play, tts: 无, next: bye}\n"
        "  err: {type: play, tts: 故障, next: l2}\n"
        "  err2: {type: play, tts: 仍然故障, next: bye}\n", start="l"))
    started = time.monotonic()
    channel, record = harness.call()
    assert channel.played == ["tts:zh:故障", "tts:zh:仍然故障"] and record.outcome == "completed"
    assert time.monotonic() - started < 2.0


def test_a_refused_transfer_target_is_logged_masked(harness, caplog):
    harness.write("main", flow('  t: {type: transfer, to: "{{ call.caller_name }}", on_failure: bye}\n', start="t"))
    channel = FakeChannel()
    channel.caller_name = "138-0013-8000"
    harness.runner().run(channel)
    assert "refusing transfer target" in caplog.text and "138-0013-8000" not in caplog.text


def test_a_menu_prompt_file_under_a_directory_with_a_space_is_collected_in_one_step(tmp_path):
    harness = Harness(tmp_path / "my flows")
    harness.flows_dir.mkdir()
    (harness.flows_dir / "menu.wav").write_bytes(b"RIFF")
    harness.write("main", flow("  m: {type: menu, prompt: {file: menu.wav}, options: {1: a}, on_failure: bye}\n"
                               "  a: {type: play, tts: 好, next: bye}\n", start="m"))
    channel, record = harness.call(["1"])
    assert record.path == ["m", "a", "bye"]
    # one play_and_get_digits whose prompt field is quoted by commands.py, so the caller can barge in
    assert channel.commands[1][0] == "collect"
    assert channel.commands[1][1]["prompt"] == str(harness.flows_dir / "menu.wav")


class HangingStore:
    """A store whose database stopped answering."""

    def request_callback(self, request):
        gevent.sleep(60)

    def ivr_finished(self, record):
        return None

    def survey_answered(self, call_uuid, question, score):
        gevent.sleep(60)


def test_a_hanging_store_neither_holds_a_callback_request_nor_a_survey_forever(harness):
    harness.callbacks = HangingStore()
    harness.log = HangingStore()
    harness.write("main", flow("  s: {type: survey, prompt: 请评分, thanks: 谢谢, next: cb}\n"
                               "  cb: {type: callback, next: ok, on_failure: f}\n"
                               "  ok: {type: play, tts: 已预约, next: bye}\n  f: {type: play, tts: 稍后再试, next: bye}\n",
                               start="s"))
    runner = harness.runner()
    runner.services.store_timeout = 0.2
    channel = FakeChannel(["4"])
    started = time.monotonic()
    record = runner.run(channel)
    assert channel.played == ["tts:zh:请评分", "tts:zh:谢谢", "tts:zh:稍后再试"] and record.surveys == [("s", 4)]
    assert time.monotonic() - started < 2.0


def test_an_audio_file_deleted_after_loading_plays_the_fallback(harness):
    (harness.flows_dir / "welcome.wav").write_bytes(b"RIFF")
    harness.write("main", flow("  a: {type: play, file: welcome.wav, fallback: 欢迎, next: bye}\n"))
    runner = harness.runner()
    (harness.flows_dir / "welcome.wav").unlink()
    channel = FakeChannel()
    record = runner.run(channel)
    assert channel.played == ["tts:zh:欢迎"] and record.outcome == "completed"
