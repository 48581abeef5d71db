"""Text messages to shoppers: Amazon SNS in AWS, an outbox file locally, a recorder in tests."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import client
from chalicelib.config import Settings
from chalicelib.domain import clock

__all__ = [
    "SmsSender",
    "SmsNotSent",
    "SentSms",
    "SnsSender",
    "OutboxSender",
    "RecordingSender",
    "memory_sender",
    "sender_for",
    "OUTBOX_FILE",
]

OUTBOX_FILE = "sms.jsonl"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SmsNotSent(RuntimeError):
    """The provider refused or failed; the message names the reason, never the number."""


class SmsSender(Protocol):
    """Delivers one text to one E.164 number."""

    def send(self, to: str, text: str) -> None: ...


@dataclass(frozen=True)
class SentSms:
    """One message as a test or the outbox sees it."""

    to: str
    text: str
    sent_at: str


def _now_text() -> str:
    return clock.now().isoformat(timespec="seconds").replace("+00:00", "Z")


class SnsSender:
    """Direct-to-phone SMS through Amazon SNS, marked transactional: SNS then routes for delivery, not price."""

    def send(self, to: str, text: str) -> None:
        try:
            # The client is built on first use and cached: importing the app needs no AWS.
            client("sns").publish(
                PhoneNumber=to,
                Message=text,
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                },
            )
        except ClientError as exc:
            # Provider messages may quote the number: only the error code goes any further.
            raise SmsNotSent(
                f"SNS refused the message: {exc.response.get('Error', {}).get('Code', 'unknown')}"
            ) from None
        except BotoCoreError as exc:
            raise SmsNotSent(f"SNS could not be reached: {type(exc).__name__}") from None


class OutboxSender:
    """Appends each message as a JSON line to `<outbox_dir>/sms.jsonl` (local stage only).

    The one place a clear phone number is ever written, so a developer or tester can read
    the code; the file lives under `.local/`, which git ignores.
    """

    _lock = threading.Lock()

    def __init__(self, outbox_dir: str | os.PathLike) -> None:
        directory = Path(outbox_dir)
        self.path = (directory if directory.is_absolute() else _PROJECT_ROOT / directory) / OUTBOX_FILE

    def send(self, to: str, text: str) -> None:
        line = json.dumps({"to": to, "text": text, "sent_at": _now_text()}, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line in append mode: concurrent writers never interleave lines.
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)


class RecordingSender:
    """Keeps messages in memory for tests to read; thread-safe for concurrency tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[SentSms] = []

    def send(self, to: str, text: str) -> None:
        with self._lock:
            self._messages.append(SentSms(to=to, text=text, sent_at=_now_text()))

    @property
    def messages(self) -> list[SentSms]:
        with self._lock:
            return list(self._messages)

    def to(self, number: str) -> list[SentSms]:
        """The messages sent to one E.164 number, oldest first."""
        return [message for message in self.messages if message.to == number]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


_MEMORY = RecordingSender()


def memory_sender() -> RecordingSender:
    """The process-wide recorder that `sms_sender="memory"` sends to."""
    return _MEMORY


def sender_for(settings: Settings) -> SmsSender:
    """The sender the settings ask for; AWS stages may only use SNS."""
    kind = settings.sms_sender
    if kind != "sns" and not settings.is_local:
        # An outbox or a recorder in AWS would write clear numbers to disk or drop every
        # code silently: refuse loudly instead.
        raise RuntimeError(f"SMS_SENDER={kind} is for the local stage only; use sns")
    if kind == "sns":
        return SnsSender()
    if kind == "outbox":
        return OutboxSender(settings.outbox_dir)
    if kind == "memory":
        return _MEMORY
    raise RuntimeError(f"SMS_SENDER must be sns, outbox or memory, not {kind!r}")
