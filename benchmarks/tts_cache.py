"""Benchmark: TTS render speed (cold, espeak-ng + resampling + cache write) and cached lookup speed (warm).

Renders ~20 typical IVR prompts (10 Chinese, 10 English) into an empty cache, then asks for each again
from the cache. realtime_factor = seconds of audio produced per second of cold rendering (the baseline is
real time: 1.0 means rendering takes as long as playing). cold_ms = median first render; warm_ms = median
cached lookup (path + duration from the WAV header).
Last line: `tts_cache: realtime_factor=<x> cold_ms=<y> warm_ms=<z>`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tts import TtsService  # noqa: E402

PROMPTS = [
    ("您好，欢迎致电金桥物流客户服务热线。", "zh"),
    ("查询运单请按一，运费咨询请按二，投诉建议请按三，人工服务请按零。", "zh"),
    ("请输入您的十二位运单号码，以井号键结束。", "zh"),
    ("您的快件已到达上海转运中心，预计明天下午送达。", "zh"),
    ("对不起，您的输入有误，请重新输入。", "zh"),
    ("现在是非工作时间，请在提示音后留言，我们将尽快回电。", "zh"),
    ("您的账户余额为一百二十三元五角。", "zh"),
    ("尊贵的会员，正在为您转接专属客服，请稍候。", "zh"),
    ("请对本次服务进行评价，非常满意请按五，不满意请按一。", "zh"),
    ("感谢您的来电，再见。", "zh"),
    ("Welcome to Jinqiao Logistics customer service.", "en"),
    ("For parcel tracking press one, for prices press two, for complaints press three.", "en"),
    ("Please enter your twelve digit waybill number, followed by the pound key.", "en"),
    ("Your parcel has arrived at the Shanghai hub and will be delivered tomorrow afternoon.", "en"),
    ("Sorry, that was not a valid choice. Please try again.", "en"),
    ("Our office is closed. Please leave a message after the tone and we will call you back.", "en"),
    ("Your balance is one hundred twenty-three yuan and fifty fen.", "en"),
    ("All our agents are busy. Your call is important to us, please hold.", "en"),
    ("Please rate our service from one to five, where five means very satisfied.", "en"),
    ("Thank you for calling. Goodbye.", "en"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-rate", type=int, default=8000, choices=(8000, 16000))
    parser.add_argument("--resampler", default="auto", choices=("auto", "sox", "python"))
    parser.add_argument("--warm-repeats", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jinqiao-tts-bench-") as cache_dir:
        service = TtsService(cache_dir, sample_rate=args.sample_rate, resampler=args.resampler)
        service.key_for("warm-up", language="en")  # ask espeak-ng --version outside the timed part

        cold_ms: list[float] = []
        audio_s = 0.0
        for text, language in PROMPTS:
            started = time.perf_counter()
            prompt = service.render(text, language=language)
            cold_ms.append((time.perf_counter() - started) * 1000)
            assert not prompt.cached
            audio_s += prompt.duration_s

        warm_ms: list[float] = []
        for _ in range(args.warm_repeats):
            for text, language in PROMPTS:
                started = time.perf_counter()
                prompt = service.render(text, language=language)
                warm_ms.append((time.perf_counter() - started) * 1000)
                assert prompt.cached

        stats = service.stats()
        resampler = service._get_resampler().name
    render_s = sum(cold_ms) / 1000
    realtime_factor = audio_s / render_s
    cold, warm = statistics.median(cold_ms), statistics.median(warm_ms)
    print(f"prompts={len(PROMPTS)} audio_s={audio_s:.1f} render_s={render_s:.3f} sample_rate={args.sample_rate} "
          f"resampler={resampler} cache_bytes={stats.bytes}")
    print(f"cold_ms p50={cold:.1f} max={max(cold_ms):.1f}; warm_ms p50={warm:.3f} max={max(warm_ms):.3f}; "
          f"cache speedup={cold / warm:.0f}x")
    print(f"tts_cache: realtime_factor={realtime_factor:.1f} cold_ms={cold:.1f} warm_ms={warm:.3f}")


if __name__ == "__main__":
    main()
