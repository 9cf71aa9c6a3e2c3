"""Dead letters: records that could not be processed go to `<topic>.dlq` with the reason in headers.

The value and key are the original bytes, untouched, so a fixed consumer can replay them.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR_CLASS = "aiops.error.class"
ERROR_MESSAGE = "aiops.error.message"
ORIGINAL_TOPIC = "aiops.original.topic"
ORIGINAL_PARTITION = "aiops.original.partition"
ORIGINAL_OFFSET = "aiops.original.offset"
MAX_MESSAGE_BYTES = 4096
# Set on a dead letter whose original value could not be copied (the value is then null): the original
# stays in the input topic at aiops.original.topic / .partition / .offset while it is retained.
VALUE_DROPPED = "aiops.error.value_dropped"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


@dataclass(frozen=True)
class DeadLetter:
    """A record that failed, the error, and where it came from."""

    key: bytes | None
    value: bytes | None
    error: BaseException
    topic: str
    partition: int
    offset: int

    @property
    def reason(self) -> str:
        return str(self.error) or type(self.error).__name__

    def headers(self) -> list[tuple[str, bytes]]:
        message = self.reason.encode("utf-8", "replace")[:MAX_MESSAGE_BYTES]
        return [
            (ERROR_CLASS, type(self.error).__name__.encode()),
            (ERROR_MESSAGE, message),
            (ORIGINAL_TOPIC, self.topic.encode()),
            (ORIGINAL_PARTITION, str(self.partition).encode()),
            (ORIGINAL_OFFSET, str(self.offset).encode()),
        ]


def read_headers(headers: list[tuple[str, bytes]] | dict[str, bytes] | None) -> dict[str, str]:
    """Dead-letter headers as text, for tools and tests reading a .dlq topic."""
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    return {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)) for k, v in items}
