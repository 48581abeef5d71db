"""Print-file exports: queued on SQS, rendered in parallel chunks to S3, finished exactly once."""
from __future__ import annotations

__all__ = ["request_export", "get_export", "handle_message"]


def request_export(brand_id: str, batch_id: str, actor: str, body: dict) -> dict:
    raise NotImplementedError


def get_export(brand_id: str, export_id: str) -> dict:
    raise NotImplementedError


def handle_message(body: str) -> None:
    raise NotImplementedError
