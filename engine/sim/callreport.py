"""`jinqiao sim call`'s printout: what the caller heard and pressed, and the path the engine stored.

How it works: replies from the simulator's control socket (see callcontrol.py) become one line each.
A played file from the engine's TTS cache is named by its text when that text is a static prompt of the
configured flows (the cache key is recomputed with the engine's TTS settings); `say:` paths and `speak`
carry their text. After hang-up the engine's interaction for the call (same config, same store) gives
the flow, the node path, the keys and the outcome.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.sim.listening import LISTENING_APPS

log = logging.getLogger(__name__)
SAY_PREFIX = "say:"
SHOWN_APPS = {"bridge": "bridge", "transfer": "transfer", "record": "record", "record_session": "record",
              "deflect": "deflect", "redirect": "redirect"}


@dataclass(frozen=True)
class PromptTexts:
    """What the engine's TTS cache files say, as far as the configured flows tell."""

    cache_dir: str = ""
    texts: dict[str, str] = field(default_factory=dict)  # cache file path -> static prompt text


def tts_texts(config: Any) -> PromptTexts:
    """Cache path -> text for every static prompt of the configured flows (no texts when TTS is unusable)."""
    try:
        from tts.flowtext import flow_files, prompts_in_file
        from tts.service import TtsService

        service = TtsService.from_config(config)
        texts: dict[str, str] = {}
        for path in flow_files([config.ivr.flows_dir]):
            for prompt in prompts_in_file(path):
                key = service.key_for(prompt.text, language=prompt.language)
                texts[service.cache.path_for(key)] = prompt.text
        return PromptTexts(service.cache.cache_dir + os.sep, texts)
    except Exception as exc:  # the printout still names the files
        log.debug("prompt texts unavailable: %s", exc)
        return PromptTexts()


def describe(reply: dict[str, Any], prompts: PromptTexts) -> str | None:
    """One line for a reply from the control socket, or None for replies not worth a line."""
    kind = reply.get("event")
    if kind == "placed":
        return f"call {reply['uuid']}: {reply['caller']} -> {reply['to']}"
    if kind == "answered":
        return "  answered"
    if kind == "heard":
        if "text" in reply:
            return f"  heard   {reply['text']}  [speak]"
        path = str(reply.get("file", ""))
        if path.startswith("silence_stream://"):
            return None
        if path.startswith(SAY_PREFIX):
            return f"  heard   {path[len(SAY_PREFIX):]}  [say]"
        if path in prompts.texts:
            return f"  heard   {prompts.texts[path]}  [tts]"
        if prompts.cache_dir and path.startswith(prompts.cache_dir):
            return f"  heard   (speech of a text made for this call)  [{path}]"
        return f"  heard   {path}"
    if kind == "app":
        if reply.get("app") in LISTENING_APPS:
            return f"  listening ({reply['app']})"
        if reply.get("app") in SHOWN_APPS:
            return f"  {SHOWN_APPS[reply['app']]} {reply.get('arg', '')}".rstrip()
        return None
    if kind == "pressed":
        return f"  pressed {reply['digits']}"
    if kind == "hangup":
        lines = [f"  hung up: {reply.get('cause') or '-'}"]
        variables = reply.get("variables") or {}
        if variables:
            lines.append("  engine variables: " + ", ".join(f"{k}={v}" for k, v in sorted(variables.items())))
        if reply.get("unpressed"):
            lines.append(f"  {reply['unpressed']} key group(s) not pressed: the flow stopped listening first")
        return "\n".join(lines)
    if kind == "error":
        return f"error: {reply.get('message')}"
    return None


def stored_path(config: Any, call_id: str, wait: float = 5.0,
                sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Lines for the engine's interaction of `call_id` (waits up to `wait` s for the flow's record)."""
    from engine.store.database import open_store
    from engine.store.repos.interactions import InteractionRepository

    try:
        store = open_store(config.database_url, region=config.database.phone_region)
    except Exception as exc:
        return [f"path: not available (store {config.database_url}: {exc})"]
    try:
        interactions = InteractionRepository(store)
        deadline = time.monotonic() + wait
        stored = interactions.by_call_id(call_id)
        while (stored is None or stored.ivr_outcome is None) and time.monotonic() < deadline:
            sleep(0.1)
            stored = interactions.by_call_id(call_id)
    except Exception as exc:
        return [f"path: not available (store {config.database_url}: {exc})"]
    finally:
        store.dispose()
    if stored is None:
        return [f"path: the engine stored no interaction for call {call_id} in {config.database_url} "
                "(is it attached to this simulator with the same config?)"]
    lines = [f"flow {stored.ivr_flow or '-'}: {' > '.join(stored.ivr_path) or '-'}"]
    if stored.ivr_digits:
        lines.append(f"keys: {' '.join(stored.ivr_digits)}")
    lines.append(f"outcome: {stored.ivr_outcome or '-'}")
    if stored.queue:
        lines.append(f"queue {stored.queue}: agent {stored.agent_id or '-'}")
    return lines
