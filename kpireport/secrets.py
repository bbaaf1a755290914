"""Keeping secrets out of logs, errors and reports.

Every value that config interpolation takes from the environment, and every pydantic
``SecretStr`` a plugin's settings hold, is registered here; :func:`redact` replaces them in any
text, and :class:`RedactingFilter` does so for every log record.
"""

from __future__ import annotations

import base64
import json
import logging
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def _python_quoted(value: str, quote: str) -> str:
    """``value`` as Python prints it between ``quote`` characters (a repr in a traceback)."""
    escapes = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", quote: "\\" + quote}
    return "".join(escapes.get(c) or (c if c.isprintable() else repr(c)[1:-1]) for c in value)


def _base64_cores(value: str) -> set[str]:
    """The part of ``value``'s base64 that is the same whatever bytes come before or after it,
    at each of the three alignments: an SMTP server echoing ``AUTH PLAIN`` (``\\0user\\0pass``)
    or ``AUTH LOGIN`` quotes the password that way."""
    raw = value.encode("utf-8")
    cores = {base64.b64encode(raw).decode("ascii")}  # AUTH LOGIN's whole line
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        # Characters whose six bits all come from the secret.
        first, last = -(-8 * offset // 6), 8 * (offset + len(raw)) // 6
        core = encoded[first:last]
        if len(core) >= 6:  # shorter would mask ordinary words
            cores.add(core)
    return cores


def register_secret(value: str | None) -> None:
    """Mask ``value`` from now on, as it is and in the forms it is quoted in: Python's repr
    (a quote, a backslash or a newline inside), JSON, and base64 (an SMTP AUTH exchange)."""
    # Very short values would mask ordinary words; they are too weak to be secrets anyway.
    if value and len(value) >= 4:
        forms = {value, _python_quoted(value, "'"), _python_quoted(value, '"'),
                 json.dumps(value)[1:-1], *_base64_cores(value)}
        with _lock:
            _secrets.update(forms)


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
