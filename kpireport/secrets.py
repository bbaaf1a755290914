"""Keeping secrets out of logs, errors and reports.

Every value that config interpolation takes from the environment, and every pydantic
``SecretStr`` a plugin's settings hold, is registered here; :func:`redact` replaces them in any
text, and :class:`RedactingFilter` does so for every log record.
"""

from __future__ import annotations

import logging
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def register_secret(value: str | None) -> None:
    # Very short values would mask ordinary words; they are too weak to be secrets anyway.
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    if not _secrets or not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # A traceback quotes the exception's message and the code's lines: format it here,
            # redacted; handlers print exc_text as it is.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
