"""The md.dlq record (schemas/dlq.schema.json): one definition for every job and connector.

A dead letter carries the refused record's bytes so it can be inspected and replayed. The original travels
whole up to ``MAX_WHOLE_ORIGINAL_BYTES``; a larger one keeps its first ``TRUNCATED_PREFIX_BYTES`` (the whole
record stays in its source topic, found by partition and offset), so that no dead letter can exceed what a
producer may send (Kafka's default ``max.request.size`` is 1 MiB and raw topics accept records up to
``RAW_RECORD_MAX_BYTES``). ``original_size`` and ``original_sha256`` are always of the whole original.
The JVM function ``DEAD_LETTER_ORIGINAL`` (jobs/jvm) applies the same rule with these numbers, passed to it by
the jobs' SQL (jobs/dead_letters.py).
"""
from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

MAX_WHOLE_ORIGINAL_BYTES = 256 * 1024
TRUNCATED_PREFIX_BYTES = 4096
RAW_RECORD_MAX_BYTES = 1024 * 1024  # raw topics' max.message.bytes (schemas/topics.yaml says the same)
DETAIL_MAX_CHARS = 500


def original_fields(original: bytes, prefer_text: bool = True) -> dict[str, Any]:
    """The ``original*`` fields of a dead letter: text when the kept bytes are UTF-8 (and ``prefer_text``),
    else base64; truncated past ``MAX_WHOLE_ORIGINAL_BYTES``."""
    truncated = len(original) > MAX_WHOLE_ORIGINAL_BYTES
    kept = original[:TRUNCATED_PREFIX_BYTES] if truncated else original
    text, encoding = None, "base64"
    if prefer_text:
        try:
            text, encoding = kept.decode("utf-8"), "text"
        except UnicodeDecodeError:
            pass
    if text is None:
        text = base64.b64encode(kept).decode("ascii")
    return {"original": text, "original_encoding": encoding, "original_size": len(original),
            "original_sha256": hashlib.sha256(original).hexdigest(), "original_truncated": truncated}


def record(reason: str, detail: str, topic: str, original: bytes, component: str, partition: int | None = None,
           offset: int | None = None, seen_at: int | None = None, prefer_text: bool = True) -> dict[str, Any]:
    """One md.dlq message. ``topic`` is the topic the record came from (a connector names its provider)."""
    return {"reason": reason, "detail": detail[:DETAIL_MAX_CHARS], "topic": topic, "partition": partition,
            "offset": offset, **original_fields(original, prefer_text),
            "seen_at": time.time_ns() if seen_at is None else seen_at, "component": component}
