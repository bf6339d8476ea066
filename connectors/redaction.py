"""Keys out of every log line and error text.

Providers' keys travel in query parameters (``apiKey=``, ``token=``, ``apikey=``), headers
(``Authorization: Bearer``, ``X-Finnhub-Token``) or login messages; URLs and frames end up in exception
texts, log lines and ``/health``'s ``last_error``. Two layers keep the keys out:

- ``redact(text)`` masks key-carrying parameters and headers by their shape, and every registered key
  wherever it appears;
- ``register_secret(key)`` (called when a provider is created) registers the key and installs a log
  record factory that passes every log line of the process, and its exception text, through ``redact``.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "***"
_SECRET_PARAM = re.compile(r"(?i)\b(api_?key|token)=[^&\s'\"]+")
_SECRET_HEADER = re.compile(r"(?i)\b(authorization|x-finnhub-token)(['\"]?\s*[:=]\s*['\"]?)(bearer\s+|token\s+)?"
                            r"[^\s'\",}]+")
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """``text`` with the values of key-carrying parameters and headers, and every registered key, masked."""
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _SECRET_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{MASK}", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def register_secret(secret: str | None) -> None:
    """Mask ``secret`` in everything ``redact`` and the log see from now on (keys shorter than 4
    characters are not registered: masking them would garble ordinary text)."""
    global _installed
    if not secret or len(secret) < 4:
        return
    with _lock:
        _secrets.add(secret)
        if not _installed:
            _install_log_redaction()
            _installed = True


def _install_log_redaction() -> None:
    make_record = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            # the traceback's text, masked once here; handlers print exc_text as it is
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacting_record)
