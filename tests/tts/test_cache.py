"""The prompt cache: hits and misses, LRU eviction under a size limit, one render per key under concurrency."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gevent
import pytest

from tts import TtsError, TtsService

REPO = Path(__file__).resolve().parents[2]


def wav_files(cache_dir: Path) -> set[str]:
    return {p.name for p in cache_dir.glob("??/*.wav")}


def test_misses_then_hits_are_counted(service):
    service.render("查询请按一", language="zh")
    service.render("查询请按一", language="zh")
    service.render("For tracking press one", language="en")
    service.render("查询请按一", language="zh")

    stats = service.stats()
    assert (stats.hits, stats.misses, stats.failures, stats.files) == (2, 2, 0, 2)


def test_least_recently_used_prompt_is_evicted_first(espeak, tmp_path):
    # Given the sizes of three rendered prompts
    texts = ["first prompt", "second prompt", "third prompt"]
    probe = TtsService(str(tmp_path / "probe"))
    sizes = [os.path.getsize(probe.render(t, language="en").path) for t in texts]
    # And a cache that holds any two of them but not all three
    service = TtsService(str(tmp_path / "cache"), max_bytes=sum(sizes) - 1)
    first = Path(service.render(texts[0], language="en").path)
    second = Path(service.render(texts[1], language="en").path)

    # When the first is used again and then a third is rendered
    assert service.render(texts[0], language="en").cached
    third = Path(service.render(texts[2], language="en").path)

    # Then the second (least recently used) is gone and the others stay
    assert first.exists() and third.exists() and not second.exists()
    assert service.stats().evictions == 1
    assert service.stats().bytes <= sum(sizes) - 1


def test_evicted_prompt_is_rendered_again_on_next_use(espeak, tmp_path):
    service = TtsService(str(tmp_path / "cache"), max_bytes=1)  # smaller than any prompt
    one = service.render("one", language="en")
    assert Path(one.path).exists()  # the prompt just rendered is never evicted

    service.render("two", language="en")
    again = service.render("one", language="en")

    assert not again.cached and Path(again.path).exists()
    assert len(wav_files(tmp_path / "cache")) == 1


def test_rendering_leaves_no_temporary_or_lock_files(service):
    service.render("您好", language="zh")
    leftovers = [p for p in Path(service.cache.cache_dir).rglob("*") if p.is_file() and p.suffix != ".wav"]
    assert leftovers == []


def test_clear_removes_every_prompt(service):
    service.render("一", language="zh")
    service.render("two", language="en")

    assert service.cache.clear()[0] == 2
    assert service.stats().files == 0 and service.stats().bytes == 0


def test_concurrent_greenlets_rendering_same_prompt_render_it_once(service):
    text = "您的包裹正在派送中，请保持电话畅通。"

    greenlets = [gevent.spawn(service.render, text, language="zh") for _ in range(8)]
    gevent.joinall(greenlets, raise_error=True)

    results = [g.value for g in greenlets]
    assert len({r.path for r in results}) == 1
    assert sorted(r.cached for r in results) == [False] + [True] * 7
    assert (service.stats().misses, service.stats().hits) == (1, 7)
    assert len(wav_files(Path(service.cache.cache_dir))) == 1


def test_separate_services_sharing_a_directory_render_a_prompt_once(espeak, tmp_path):
    services = [TtsService(str(tmp_path / "cache")) for _ in range(4)]

    greenlets = [gevent.spawn(s.render, "Your parcel is out for delivery.", language="en") for s in services * 2]
    gevent.joinall(greenlets, raise_error=True)

    assert sum(s.stats().misses for s in services) == 1
    assert len(wav_files(tmp_path / "cache")) == 1


RENDER_IN_CHILD = """
import json, sys
from tts import TtsService
prompt = TtsService(sys.argv[1], timeout=float(sys.argv[3])).prompt(sys.argv[2], language="zh", fallback_path="FALLBACK")
print(json.dumps([prompt.path, prompt.cached]))
"""


def render_in_processes(cache_dir: Path, text: str, count: int, timeout: float = 5.0) -> list[tuple[str, bool]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [
        subprocess.Popen([sys.executable, "-c", RENDER_IN_CHILD, str(cache_dir), text, str(timeout)],
                         stdout=subprocess.PIPE, env=env)
        for _ in range(count)
    ]
    outputs = [child.communicate(timeout=60)[0] for child in children]
    return [tuple(json.loads(out)) for out in outputs]


def test_processes_sharing_the_cache_render_a_prompt_once(espeak, tmp_path):
    results = render_in_processes(tmp_path / "cache", "多个进程同时请求同一段提示音", count=4)

    assert len({path for path, _ in results}) == 1
    assert sorted(cached for _, cached in results) == [False, True, True, True]
    assert len(wav_files(tmp_path / "cache")) == 1


def test_render_waiting_on_another_process_times_out_to_fallback(service, tmp_path):
    # Given this process holds the render lock of a prompt
    key = service.key_for("请稍候", language="zh")
    with service.cache.rendering(key, timeout=1.0):
        # When another process needs the same prompt
        [(path, cached)] = render_in_processes(Path(service.cache.cache_dir), "请稍候", count=1, timeout=0.2)
    # Then it gives up after its timeout and plays its fallback
    assert (path, cached) == ("FALLBACK", False)


def test_render_waiting_on_same_key_in_process_times_out_with_tts_error(service):
    key = service.key_for("Please hold", language="en")
    other = TtsService(service.cache.cache_dir, timeout=0.1)
    with service.cache.rendering(key, timeout=1.0):
        with pytest.raises(TtsError, match="did not finish"):
            other.render("Please hold", language="en")


def test_prompt_deleted_behind_the_cache_is_rendered_again(service):
    first = service.render("您好", language="zh")
    Path(first.path).unlink()  # as another process's eviction would

    again = service.render("您好", language="zh")

    assert again.path == first.path and not again.cached and Path(again.path).exists()
