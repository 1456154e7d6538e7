"""`jinqiao tts ...`: pre-render flow prompts or a single text, and inspect or clear the audio cache."""
from __future__ import annotations

import logging
from typing import Any

import click
import yaml

from tts.flowtext import flow_files, prompts_in_file
from tts.model import TtsError
from tts.service import TtsService

log = logging.getLogger(__name__)


def _config() -> Any:
    """The engine config of this command (see engine.clicontext)."""
    from engine.clicontext import current_config

    return current_config()


def service_from_config(config: Any) -> TtsService:
    """The TtsService the config describes."""
    return TtsService.from_config(config)


@click.group("tts")
def tts() -> None:
    """Text-to-speech: pre-render prompts and manage the audio cache."""


@tts.command("render")
@click.option("--text", "text", help="Render this one text (prints its file and duration).")
@click.option("--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of --text.")
@click.argument("flow_files_or_dirs", metavar="[FLOW_FILES]...", nargs=-1, type=click.Path(exists=True))
def render(text: str | None, language: str, flow_files_or_dirs: tuple[str, ...]) -> None:
    """Pre-render every static prompt of the flow files or dirs (default: the configured flows dir)."""
    config = _config()
    service = service_from_config(config)
    if service.backend != "espeak":
        raise click.ClickException(f"the {service.backend!r} TTS backend renders no files; nothing to do")
    if text is not None:
        try:
            prompt = service.render(text, language=language)
        except TtsError as exc:
            raise click.ClickException(str(exc)) from None
        state = "cached" if prompt.cached else "rendered"
        click.echo(f"{prompt.path}\t{prompt.duration_s:.2f}s\t{state}")
        if not flow_files_or_dirs:
            return
    paths = list(flow_files_or_dirs) or [config.ivr.flows_dir]
    texts: list[tuple[str, str]] = []
    unreadable = 0
    for path in flow_files(paths):
        try:
            found = prompts_in_file(path)
        except (OSError, yaml.YAMLError) as exc:
            click.echo(f"{path}: cannot read: {exc}", err=True)
            unreadable += 1
            continue
        click.echo(f"{path}: {len(found)} static prompts")
        texts += [(p.text, p.language) for p in found]
    summary = service.prerender(texts)
    for failure in summary.failures:
        click.echo(f"failed [{failure.language}] {failure.text[:60]!r}: {failure.error}", err=True)
    click.echo(
        f"prompts={summary.total} rendered={summary.rendered} cached={summary.cached} failed={summary.failed} "
        f"audio_s={summary.audio_s:.1f} elapsed_s={summary.elapsed_s:.2f} cache_dir={service.cache.cache_dir}"
    )
    if summary.failed or unreadable:
        raise SystemExit(1)


@tts.group("cache")
def cache() -> None:
    """Inspect or clear the rendered-prompt cache."""


@cache.command("stats")
def cache_stats() -> None:
    """Show the cache directory, file count and size against the limit."""
    stats = service_from_config(_config()).stats()
    click.echo(f"cache_dir={stats.cache_dir}")
    click.echo(f"files={stats.files} bytes={stats.bytes} max_bytes={stats.max_bytes} "
               f"used={100.0 * stats.bytes / stats.max_bytes:.1f}%")


@cache.command("clear")
def cache_clear() -> None:
    """Delete every cached prompt (they are re-rendered on demand)."""
    service = service_from_config(_config())
    files, freed = service.cache.clear()
    click.echo(f"removed {files} files ({freed} bytes) from {service.cache.cache_dir}")
