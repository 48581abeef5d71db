"""Statuses of campaigns, batches, exports, draws, wins, rewards, voucher files, redemptions, deletions and
data-subject requests, and the moves each lifecycle allows (the write is the caller's)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from chalicelib.domain.errors import InvalidTransition

__all__ = [
    "CampaignStatus",
    "BatchStatus",
    "ExportStatus",
    "DrawStatus",
    "WinStatus",
    "RewardStatus",
    "VoucherFileStatus",
    "RedemptionStatus",
    "CodeStatus",
    "ErasureStatus",
    "ERASURE_TRANSITIONS",
    "SubjectRequestStatus",
    "SUBJECT_REQUEST_TRANSITIONS",
    "CAMPAIGN_TRANSITIONS",
    "BATCH_TRANSITIONS",
    "EXPORT_TRANSITIONS",
    "DRAW_TRANSITIONS",
    "REWARD_TRANSITIONS",
    "VOUCHER_FILE_TRANSITIONS",
    "REDEMPTION_TRANSITIONS",
    "WIN_TRANSITIONS",
    "WIN_FINAL",
    "check_move",
    "WebhookStatus",
    "DeliveryStatus",
]


class _Status(StrEnum):
    """A status: stored, compared, serialised and shown (repr, so in a 400's list of allowed
    values too) as the string it stands for."""

    def __repr__(self) -> str:
        return repr(self.value)


class CampaignStatus(_Status):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class BatchStatus(_Status):
    INACTIVE = "inactive"
    ACTIVE = "active"
    VOID = "void"
    # Held by an operator from an integrity signal: scans are refused as for a void batch, until released.
    QUARANTINED = "quarantined"


class ExportStatus(_Status):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DrawStatus(_Status):
    SCHEDULED = "scheduled"
    FREEZING = "freezing"
    FROZEN = "frozen"
    DRAWN = "drawn"


class WinStatus(_Status):
    """A win of a lucky draw, from the offer to the winner until the prize is delivered or passes on."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    VERIFIED = "verified"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    DECLINED = "declined"
    REJECTED = "rejected"
    FORFEITED = "forfeited"


class RewardStatus(_Status):
    ACTIVE = "active"
    RETIRED = "retired"


class VoucherFileStatus(_Status):
    WRITING = "writing"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class CodeStatus(_Status):
    """What a code's record says: claimed by a shopper, voided by the brand, or a refused scan's record.
    Each is written once, by the scan or the void, on condition that the code has no record yet."""

    CLAIMED = "claimed"
    VOID = "void"
    REFUSED = "refused"
    # An unclaimed code an operator quarantined: refused like a voided one until released.
    QUARANTINED = "quarantined"


class RedemptionStatus(_Status):
    ISSUED = "issued"
    PENDING = "pending"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class WebhookStatus(_Status):
    """A webhook endpoint: sent to while enabled; disabled by its owner, by a 410 or after failing for days."""

    ENABLED = "enabled"
    DISABLED = "disabled"


class DeliveryStatus(_Status):
    """One event's delivery to one endpoint: pending until delivered, or failed once retries ran out
    (or its endpoint went away)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class ErasureStatus(_Status):
    """An account's deletion: running until every step is done (a crash leaves it running: it resumes)."""

    RUNNING = "running"
    DONE = "done"


class SubjectRequestStatus(_Status):
    """A data-subject request received by other means: open until an owner closes it (services/subject_requests.py)."""

    OPEN = "open"
    CLOSED = "closed"


_C, _B, _E, _D, _R, _V, _X = (
    CampaignStatus,
    BatchStatus,
    ExportStatus,
    DrawStatus,
    RewardStatus,
    VoucherFileStatus,
    RedemptionStatus,
)
# draft -> active <-> paused -> ended; a draft can be ended unused; ended is final.
CAMPAIGN_TRANSITIONS: Mapping[str, frozenset[str]] = {
    _C.DRAFT: frozenset({_C.ACTIVE, _C.ENDED}),
    _C.ACTIVE: frozenset({_C.PAUSED, _C.ENDED}),
    _C.PAUSED: frozenset({_C.ACTIVE, _C.ENDED}),
    _C.ENDED: frozenset(),
}
# inactive while printing (scans refused), active once shipped, void if lost: void is final.
BATCH_TRANSITIONS: Mapping[str, frozenset[str]] = {
    _B.INACTIVE: frozenset({_B.ACTIVE, _B.VOID}),
    _B.ACTIVE: frozenset({_B.VOID, _B.QUARANTINED}),
    _B.QUARANTINED: frozenset({_B.ACTIVE, _B.VOID}),
    _B.VOID: frozenset(),
}
# A worker takes a queued export (running), writes it (done) or gives up (failed); a worker
# lost mid-file leaves it running until another takes it again.
EXPORT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    _E.QUEUED: frozenset({_E.RUNNING, _E.FAILED}),
    _E.RUNNING: frozenset({_E.RUNNING, _E.DONE, _E.FAILED}),
    _E.DONE: frozenset(),
    _E.FAILED: frozenset(),
}
# scheduled -> freezing (a runner holds the lease) -> frozen (snapshot written) -> drawn. A
# runner lost while freezing leaves the draw to the next one once its lease runs out; one that
# finds the entries cannot be drawn gives the lease back (scheduled again).
DRAW_TRANSITIONS: Mapping[str, frozenset[str]] = {
    _D.SCHEDULED: frozenset({_D.FREEZING}),
    _D.FREEZING: frozenset({_D.FREEZING, _D.FROZEN, _D.SCHEDULED}),
    _D.FROZEN: frozenset({_D.DRAWN}),
    _D.DRAWN: frozenset(),
}
REWARD_TRANSITIONS: Mapping[str, frozenset[str]] = {_R.ACTIVE: frozenset({_R.RETIRED}), _R.RETIRED: frozenset()}
# A voucher file is written item by item, then published into the stock in one step; or withdrawn
# while writing (by its sender, or refused for a code another file holds), taking back what it wrote.
# A withdrawn file may be sent again: it starts over.
VOUCHER_FILE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    _V.WRITING: frozenset({_V.PUBLISHED, _V.WITHDRAWN}),
    _V.PUBLISHED: frozenset(),
    _V.WITHDRAWN: frozenset({_V.WRITING}),
}
# A voucher is issued on redemption; a gift is pending until shipped. Either may be cancelled
# (points refunded) until shipped; shipped and cancelled are final.
REDEMPTION_TRANSITIONS: Mapping[str, frozenset[str]] = {
    _X.ISSUED: frozenset({_X.CANCELLED}),
    _X.PENDING: frozenset({_X.SHIPPED, _X.CANCELLED}),
    _X.SHIPPED: frozenset(),
    _X.CANCELLED: frozenset(),
}


_W = WinStatus
# offered -> accepted (the winner gave what the prize needs) -> verified -> shipped -> delivered, by the
# brand; offered -> declined (the winner) or forfeited (the window ended); accepted or verified ->
# rejected (the brand, with a reason). Declined, rejected and forfeited are final and pass the prize on
# to the next alternate (WIN_FINAL); delivered is final and keeps it.
WIN_TRANSITIONS: Mapping[str, frozenset[str]] = {
    _W.OFFERED: frozenset({_W.ACCEPTED, _W.DECLINED, _W.FORFEITED}),
    _W.ACCEPTED: frozenset({_W.VERIFIED, _W.REJECTED}),
    _W.VERIFIED: frozenset({_W.SHIPPED, _W.REJECTED}),
    _W.SHIPPED: frozenset({_W.DELIVERED}),
    _W.DELIVERED: frozenset(),
    _W.DECLINED: frozenset(),
    _W.REJECTED: frozenset(),
    _W.FORFEITED: frozenset(),
}
# A confirmed deletion runs (again after a crash) until done; a done account signed in again is a new one.
ERASURE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    ErasureStatus.RUNNING: frozenset({ErasureStatus.RUNNING, ErasureStatus.DONE}),
    ErasureStatus.DONE: frozenset(),
}
# A request is open until closed (acted on, refused, or "no data held"); closed is final.
SUBJECT_REQUEST_TRANSITIONS: Mapping[str, frozenset[str]] = {
    SubjectRequestStatus.OPEN: frozenset({SubjectRequestStatus.CLOSED}),
    SubjectRequestStatus.CLOSED: frozenset(),
}
WIN_FINAL: frozenset[str] = frozenset({_W.DECLINED, _W.REJECTED, _W.FORFEITED})
"""The ends of a win that pass its prize on to the next alternate."""


def check_move(current: str, target: str, transitions: Mapping[str, frozenset[str]], noun: str) -> bool:
    """Whether moving from `current` to `target` changes anything; raises if the lifecycle forbids it.

    Asking for the status something already has is allowed and changes nothing (False).
    """
    if target == current:
        return False
    if target not in transitions[current]:
        raise InvalidTransition(f"status: A {noun} that is {current} cannot become {target}.", field="status")
    return True
