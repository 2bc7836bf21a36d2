"""YAML as editors write it (front matter, registries): parsed by libyaml when PyYAML was built with it,
several times faster than the pure-Python parser. A text libyaml refuses is parsed again by the pure-Python
parser, so an error, its wording and its line are the same on every machine."""

from __future__ import annotations

from typing import Any

import yaml

_FAST = getattr(yaml, "CSafeLoader", None)


def load(text: str) -> Any:
    if _FAST is None:
        return yaml.safe_load(text)
    try:
        return yaml.load(text, Loader=_FAST)  # noqa: S506 (CSafeLoader is the safe loader)
    except yaml.YAMLError:
        return yaml.safe_load(text)
