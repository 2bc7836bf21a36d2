"""Credentials for the real outlets, and ``redact`` for every text that could carry one.

Credentials never live in ``pressroom.toml`` or the repository. Each one is read, in this order, from

1. an environment variable with a documented name (``pressroom.settings.ENV_NAMES``), or
2. a Prefect Secret block whose name is given in settings, ``[transport.<outlet>] <key>_block = "…"``
   (for example ``[transport.wechat] secret_block = "huainan-wechat-secret"``; create it with
   ``prefect block create secret`` or in the UI).

Every value read here, and every short-lived token a transport obtains (``remember``), is added to the set
that ``redact`` blanks out. Transports pass every error message and log line through ``redact``;
``install_log_redaction`` also filters the HTTP library's debug log, which prints request URLs (WeChat puts
``access_token`` in the query string).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Mapping

from pressroom.settings import ENV_NAMES, PUBLIC_KEYS, Settings  # noqa: F401  (the names live with the settings)


MASK = "***"
_MIN_LEN = 4  # shorter values would blank ordinary words

_known: set[str] = set()
_block_cache: dict[str, str] = {}
_lock = threading.Lock()


class MissingCredential(Exception):
    """A credential that is configured nowhere. The message names where to put it (never a value)."""


def transport_settings(settings: Settings, outlet: str) -> Mapping:
    """The ``[transport.<outlet>]`` table of settings (empty when absent)."""
    return settings.transport_tables.get(outlet) or {}


def remember(value: str | None) -> None:
    """Add a value (a credential, a token obtained with it) to what ``redact`` hides."""
    if value and len(value) >= _MIN_LEN:
        with _lock:
            _known.add(value)


def credential(settings: Settings, outlet: str, key: str, required: bool = True) -> str:
    """The credential ``key`` of ``outlet``: environment variable, else the Prefect Secret block named in
    settings. Raises MissingCredential (in Chinese, naming both places) when required and absent."""
    env = ENV_NAMES.get((outlet, key))
    value = os.environ.get(env, "") if env else ""
    conf = transport_settings(settings, outlet)
    if not value and conf.get(f"{key}_block"):
        value = _from_block(str(conf[f"{key}_block"]))
    if not value and (outlet, key) in PUBLIC_KEYS:
        value = str(conf.get(key, ""))
    if value:
        remember(value)
        return value
    if required:
        where = f"环境变量 {env}" if env else ""
        block = f"settings 中 [transport.{outlet}] {key}_block 指定的 Prefect Secret 块"
        raise MissingCredential(f"{outlet} 缺少凭据“{key}”：请设置{where}{'，或' if where else ''}{block}")
    return ""


def _from_block(name: str) -> str:
    """A Prefect Secret block's value (cached per process: each read is an API call)."""
    with _lock:
        if name in _block_cache:
            return _block_cache[name]
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(name).get()
    except Exception as e:  # a missing block or an unreachable API: say which block, never a value
        raise MissingCredential(f"无法读取 Prefect Secret 块“{name}”：{type(e).__name__}") from None
    value = value if isinstance(value, str) else str(value)
    with _lock:
        _block_cache[name] = value
    remember(value)
    return value


# Credentials that travel in URLs, forms, headers or JSON, whatever their value.
_PATTERNS = [
    (re.compile(r"(?i)\b(access_token|appsecret|secret|password|passwd|token|client_secret)=([^&\s\"'<>]+)"),
     lambda m: f"{m.group(1)}={MASK}"),
    (re.compile(r"(?i)\b(Bearer|OAuth2)\s+[A-Za-z0-9._~+/=-]+"), lambda m: f"{m.group(1)} {MASK}"),
    # a password in a URL's user part (a database URL in an error): scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@"), lambda m: f"{m.group(1)}{MASK}@"),
    (re.compile(r"(?i)([\"'](?:access_token|secret|appsecret|password|token)[\"']\s*:\s*[\"'])[^\"']*([\"'])"),
     lambda m: f"{m.group(1)}{MASK}{m.group(2)}"),
]


def redact(text: object) -> str:
    """``text`` with every known credential or token replaced by ``***``."""
    s = str(text)
    values = set(_known)
    for env in ENV_NAMES.values():
        v = os.environ.get(env, "")
        if len(v) >= _MIN_LEN:
            values.add(v)
    for v in sorted(values, key=len, reverse=True):
        if v in s:
            s = s.replace(v, MASK)
    for pattern, repl in _PATTERNS:
        s = pattern.sub(repl, s)
    return s


class RedactingFilter(logging.Filter):
    """Rewrites a record's message through ``redact`` (the record is kept, its secrets are not)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_FILTERED = ("urllib3.connectionpool", "urllib3", "requests", "pressroom", "pressroom.transports")
_installed = False


def install_log_redaction(extra_loggers: tuple[str, ...] = ()) -> None:
    """Attach ``RedactingFilter`` to the loggers that may see a URL or a credential. Idempotent."""
    global _installed
    names = _FILTERED + tuple(extra_loggers)
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
    _installed = True
