"""Find the static prompt texts in IVR flow YAML, so they can be rendered before the first call.

How it works: a generic walk of the YAML data (the flow format lives in engine/ivr and docs/flows.md;
this imports none of it): the value of any prompt key (`tts`, `prompt`, `fallback`, `thanks`,
`*_prompt`) that is a string, a mapping `{text, language}`, a mapping of language -> text
(`{zh: ..., en: ...}`), a prompt mapping (`{tts: ..., language: ...}`), or a list of those. Texts holding
Jinja2 syntax (`{{`, `{%`, `{#`) are dynamic and skipped. A text's language is, in order: its own
language key, the nearest enclosing mapping's `language`, otherwise `zh` if it has Chinese characters,
else `en`. Texts are stripped, as the IVR runtime strips them before rendering.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Iterator

import yaml

log = logging.getLogger(__name__)

TEMPLATE_MARKERS = ("{{", "{%", "{#")
LANGUAGE_KEYS = ("zh", "en")
# Prompt fields of the flow language (docs/flows.md); any other key ending in `_prompt` counts too.
# (A say node's `before`/`after` are not prompts: they are spoken joined to the value.)
PROMPT_KEYS = frozenset({"tts", "prompt", "fallback", "thanks"})
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class PromptText:
    """A static prompt found in a flow file."""

    text: str
    language: str
    source: str  # file name and path inside it, e.g. "hotline.yaml:nodes.welcome.tts"


def is_template(text: str) -> bool:
    return any(marker in text for marker in TEMPLATE_MARKERS)


def guess_language(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def static_prompts(data: Any, source: str = "") -> list[PromptText]:
    """Every static TTS text in parsed flow YAML, in document order, without duplicates."""
    found: dict[tuple[str, str], PromptText] = {}
    for prompt in _walk(data, None, source):
        found.setdefault((prompt.text, prompt.language), prompt)
    return list(found.values())


def is_prompt_key(key: object) -> bool:
    """Keys whose value is a prompt (`tts`, `prompt`, `fallback`, `thanks`, `*_prompt`)."""
    return isinstance(key, str) and (key in PROMPT_KEYS or key.endswith("_prompt"))


def _walk(node: Any, language: str | None, where: str) -> Iterator[PromptText]:
    if isinstance(node, dict):
        own = node.get("language")
        language = own if isinstance(own, str) else language
        for key, value in node.items():
            path = f"{where}.{key}" if where and not where.endswith(":") else f"{where}{key}"
            if is_prompt_key(key):
                yield from _prompt_value(value, language, path)
            else:
                yield from _walk(value, language, path)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, language, f"{where}[{index}]")


def _prompt_value(value: Any, language: str | None, where: str) -> Iterator[PromptText]:
    if isinstance(value, str):
        if value.strip() and not is_template(value):
            yield PromptText(value.strip(), language or guess_language(value), where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _prompt_value(item, language, f"{where}[{index}]")
    elif isinstance(value, dict):
        if "text" in value:  # {text: ..., language: ...}
            own = value.get("language")
            yield from _prompt_value(value["text"], own if isinstance(own, str) else language, f"{where}.text")
        elif value and all(key in LANGUAGE_KEYS for key in value):  # {zh: ..., en: ...}
            for lang, text in value.items():
                yield from _prompt_value(text, lang, f"{where}.{lang}")
        else:  # a prompt mapping such as {tts: ..., language: en} or {file: ...}
            yield from _walk(value, language, where)


def flow_files(paths: list[str]) -> list[str]:
    """The YAML files named, and those found (recursively, sorted) in directories named."""
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in sorted(os.walk(path)):
                files += [os.path.join(root, n) for n in sorted(names) if n.endswith((".yaml", ".yml"))]
        else:
            files.append(path)
    return files


def prompts_in_file(path: str) -> list[PromptText]:
    """Static prompts of one flow file; raises OSError or yaml.YAMLError if it cannot be read."""
    with open(path, encoding="utf-8") as handle:
        documents = list(yaml.safe_load_all(handle))
    name = os.path.basename(path)
    if len(documents) == 1:
        return static_prompts(documents[0], f"{name}:")
    return static_prompts(documents, f"{name}:")
