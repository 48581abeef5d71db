"""Pack integrity, the operators' side: thresholds per brand, and quarantine of a code or batch (audited)."""

from __future__ import annotations

from dataclasses import asdict

from chalicelib.adapters import integrity_store
from chalicelib.adapters.models import CodeState
from chalicelib.adapters.records import load_batch, save_status
from chalicelib.domain import integrity as rules
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.lifecycle import BATCH_TRANSITIONS, BatchStatus, CodeStatus, check_move
from chalicelib.services import audit
from chalicelib.services.batches import find_code, operator_record
from chalicelib.services.signals import brand_thresholds

__all__ = [
    "get_thresholds",
    "put_thresholds",
    "quarantine_batch",
    "release_batch",
    "quarantine_code",
    "release_code",
]


def get_thresholds(brand_id: str) -> dict:
    return {"thresholds": asdict(brand_thresholds(brand_id)), "defaults": asdict(rules.Thresholds())}


def put_thresholds(brand_id: str, actor: str, body: dict) -> dict:
    """Change some of a brand's thresholds (owners); the change is audited with the values before and after."""
    before = brand_thresholds(brand_id)
    after = rules.validated_thresholds(body, before)
    integrity_store.save_thresholds(brand_id, asdict(after))
    changed = {name: {"before": getattr(before, name), "after": value} for name, value in body.items()}
    audit.record(brand_id, actor, "integrity_thresholds", brand_id, changed)
    return get_thresholds(brand_id)


def _reason(body: dict) -> str | None:
    """The operator's note on why (optional text, at most 500 characters)."""
    for name in body:
        if name not in ("reason", "signal"):
            raise InvalidInput(f"{name}: Not a field of this action; it takes reason and signal.", field=name)
    for name in ("reason", "signal"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 500):
            raise InvalidInput(f"{name}: Text of at most 500 characters.", field=name)
    return body.get("reason")


def _move_batch(brand_id: str, batch_id: str, actor: str, body: dict, target: str, action: str) -> dict:
    reason = _reason(body)
    batch = load_batch(brand_id, batch_id)
    if target == BatchStatus.ACTIVE and batch.status != BatchStatus.QUARANTINED:
        raise Conflict("Only a quarantined batch can be released.", field="status")
    if batch.status == target:  # quarantined twice: one move, one event
        return {"batch_id": batch_id, "status": target}
    check_move(batch.status, target, BATCH_TRANSITIONS, "batch")
    before = batch.status
    save_status(batch, target, "batch")
    details = {"status": {"before": before, "after": target}, "reason": reason, "signal": body.get("signal")}
    audit.record(brand_id, actor, action, batch_id, details)
    return {"batch_id": batch_id, "status": target}


def quarantine_batch(brand_id: str, batch_id: str, actor: str, body: dict) -> dict:
    """Hold an active batch: its scans are refused as a void batch's are, until released."""
    return _move_batch(brand_id, batch_id, actor, body, BatchStatus.QUARANTINED, "batch_quarantine")


def release_batch(brand_id: str, batch_id: str, actor: str, body: dict) -> dict:
    """Release a quarantined batch: its codes can be claimed again."""
    return _move_batch(brand_id, batch_id, actor, body, BatchStatus.ACTIVE, "batch_release")


def quarantine_code(brand_id: str, code_text: str, actor: str, body: dict) -> dict:
    """Hold one code: unclaimed, it is refused as a voided one; claimed, other shoppers' scans of it are."""
    reason = _reason(body)
    ref = find_code(brand_id, code_text)
    state = operator_record(ref, CodeStatus.QUARANTINED, actor)
    key = state.code_key
    now_state = integrity_store.quarantine_code(state)
    if now_state == CodeStatus.VOID:
        raise Conflict("This code is void already.", field="code")
    details = {
        "code_key": key,
        "claimed": now_state == CodeStatus.CLAIMED,
        "reason": reason,
        "signal": body.get("signal"),
    }
    audit.record(brand_id, actor, "code_quarantine", ref.code, details)
    return {"code": ref.code, "batch_id": ref.batch.batch_id, "serial": ref.serial, "quarantined": True}


def release_code(brand_id: str, code_text: str, actor: str, body: dict) -> dict:
    """Lift a code's quarantine."""
    reason = _reason(body)
    ref = find_code(brand_id, code_text)
    key = CodeState.key_for(ref.batch.batch_number, ref.serial)
    if not integrity_store.release_code(key):
        raise Conflict("This code is not quarantined.", field="code")
    audit.record(brand_id, actor, "code_release", ref.code, {"code_key": key, "reason": reason})
    return {"code": ref.code, "batch_id": ref.batch.batch_id, "serial": ref.serial, "quarantined": False}
