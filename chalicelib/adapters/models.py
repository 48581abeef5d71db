"""Every PynamoDB model and index: the one source of the schema."""

from __future__ import annotations

import json
from typing import cast

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection.table import TableConnection
from pynamodb.constants import NUMBER, STREAM_NEW_IMAGE
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.adapters import dynamo
from chalicelib.config import Settings, get_settings

__all__ = [
    "Campaign",
    "Rules",
    "Prize",
    "Batch",
    "Counter",
    "CodeState",
    "RateCounter",
    "Participant",
    "StatShard",
    "ShopperAccount",
    "OtpChallenge",
    "Export",
    "AuditEvent",
    "ALL_MODELS",
    "bind",
]


class IntegerAttribute(Attribute[int]):
    """A DynamoDB number that holds a whole number (counts, serials, points): read back as an int."""

    attr_type = NUMBER

    def serialize(self, value: int) -> str:
        return str(int(value))

    def deserialize(self, value: str) -> int:
        try:
            return int(value)
        except ValueError:  # written in another form by something else: 1E+3, 10.0
            return int(json.loads(value))


class _BaseMeta:
    """Defaults shared by every table; `bind` fills in name, region and endpoint.

    Each model's Meta names its table by `table_suffix` alone: `bind` makes
    `table_name` from it and the stage's prefix (`qrc-<stage>-<suffix>`). Timeouts
    and retries are the shared client's (chalicelib/adapters/dynamo.py).
    """

    table_suffix: str
    table_name: str
    region: str | None
    host: str | None
    max_retry_attempts: int

    billing_mode = "PAY_PER_REQUEST"


class _Model(Model):
    """A PynamoDB model whose table connection uses the container's one DynamoDB client.

    PynamoDB gives each model a Connection of its own, and each of those a botocore
    session and client (about 0.2 s of a cold start each); this hands every table
    connection PynamoDB builds the shared one instead (see dynamo.share_connection).
    """

    @classmethod
    def _get_connection(cls) -> TableConnection:
        table = super()._get_connection()
        dynamo.share_connection(table)
        return table


class Rules(MapAttribute):
    """What one granted scan earns, and the caps that bound it."""

    points_per_scan = IntegerAttribute(default=0)
    entries_per_scan = IntegerAttribute(default=0)
    max_claims_per_participant_per_day = IntegerAttribute(null=True)
    max_claims_per_participant = IntegerAttribute(null=True)
    budget_points = IntegerAttribute(null=True)
    # {sku: {"points_per_scan": n, "entries_per_scan": m}}: what a pack of that SKU earns instead.
    sku_overrides: MapAttribute = MapAttribute(null=True)


class Prize(MapAttribute):
    """An instant-win prize pool of fixed size: secret winning codes, or per-scan odds."""

    prize_id = UnicodeAttribute()
    name = UnicodeAttribute()
    quantity = IntegerAttribute()
    odds_per_million = IntegerAttribute(null=True)


class Allocation(MapAttribute):
    """How many of a batch's codes secretly win one prize (which ones is derived, never stored)."""

    prize_id = UnicodeAttribute()
    count = IntegerAttribute()


class Campaign(_Model):
    """A promotion of one brand; keyed by brand so another brand's id is never found."""

    class Meta(_BaseMeta):
        table_suffix = "campaigns"

    brand_id = UnicodeAttribute(hash_key=True)
    campaign_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    status = UnicodeAttribute(default="draft")
    starts_at = UTCDateTimeAttribute()
    ends_at = UTCDateTimeAttribute()
    timezone = UnicodeAttribute()
    rules = Rules()
    prizes = ListAttribute(of=Prize, default=list)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    version = VersionAttribute()


class BatchesByCampaign(GlobalSecondaryIndex):
    """A campaign's batches in minting order (batch ids sort by creation)."""

    class Meta:
        index_name = "by_campaign"
        projection = AllProjection()

    campaign_id = UnicodeAttribute(hash_key=True)
    batch_id = UnicodeAttribute(range_key=True)


class BatchesByNumber(GlobalSecondaryIndex):
    """The batch a code belongs to: codes carry the batch number, not the id."""

    class Meta:
        index_name = "by_number"
        projection = AllProjection()

    batch_number = IntegerAttribute(hash_key=True)


class Batch(_Model):
    """A print batch: one record for N codes, whose codes are derived, never stored."""

    class Meta(_BaseMeta):
        table_suffix = "batches"

    batch_id = UnicodeAttribute(hash_key=True)
    batch_number = IntegerAttribute()
    brand_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    sku = UnicodeAttribute()
    label = UnicodeAttribute(null=True)
    quantity = IntegerAttribute()
    key_version = IntegerAttribute()
    allocations = ListAttribute(of=Allocation, default=list)
    status = UnicodeAttribute(default="inactive")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    version = VersionAttribute()
    by_campaign = BatchesByCampaign()
    by_number = BatchesByNumber()


class Counter(_Model):
    """Named monotonic counters (batch numbers); each increment is a conditional write.

    A counter that holds leases (a brand's running exports) keeps them in `slots`
    (holder -> epoch seconds taken) and uses `value` as its version.
    """

    class Meta(_BaseMeta):
        table_suffix = "counters"

    name = UnicodeAttribute(hash_key=True)
    value = IntegerAttribute(default=0)
    slots: MapAttribute = MapAttribute(null=True)


class ClaimsByShopper(GlobalSecondaryIndex):
    """A shopper's claims, newest last: the wallet's history (void codes have no shopper)."""

    class Meta:
        index_name = "by_shopper"
        projection = AllProjection()

    shopper_id = UnicodeAttribute(hash_key=True)
    changed_at = UTCDateTimeAttribute(range_key=True)


class CodeState(_Model):
    """What has happened to one code, keyed by batch number and serial: void, or claimed.

    A voided code is written here ahead of any scan, so the claim's
    "does not exist" condition refuses it without an extra read. A claim is the
    record of the grant: a replay reads its answer back from here.

    A refused scan of a campaign's code is recorded here too (state `refused`, keyed
    `r#<shopper>#<request>`, kept a week), so the aggregator counts refusals from the
    same stream, exactly once, as it counts claims.
    """

    class Meta(_BaseMeta):
        table_suffix = "code_states"
        # The statistics aggregator reads new claims from the table's stream.
        stream_view_type = STREAM_NEW_IMAGE

    code_key = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute()
    batch_id = UnicodeAttribute()
    brand_id = UnicodeAttribute()
    changed_at = UTCDateTimeAttribute()
    changed_by = UnicodeAttribute()
    shopper_id = UnicodeAttribute(null=True)
    campaign_id = UnicodeAttribute(null=True)
    sku = UnicodeAttribute(null=True)
    points = IntegerAttribute(null=True)
    entries = IntegerAttribute(null=True)
    prize_id = UnicodeAttribute(null=True)
    prize_name = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute(null=True)
    request_key = UnicodeAttribute(null=True)  # the claiming request's Idempotency-Key, if it sent one
    # What statistics need to know about the participant at this claim, fixed by the
    # claim itself so the counters can always be recomputed from claim records alone.
    timezone = UnicodeAttribute(null=True)
    nth = IntegerAttribute(null=True)
    active_days = IntegerAttribute(null=True)
    first_claim_at = UTCDateTimeAttribute(null=True)
    prev_claim_at = UTCDateTimeAttribute(null=True)
    # Set by the aggregator in the same transaction that counts the claim: counted once.
    counted = BooleanAttribute(null=True)
    kind = UnicodeAttribute(null=True)  # a refusal's kind (statistics.REFUSALS)
    expires_at = TTLAttribute(null=True)  # refusals only: claims and voids are kept
    by_shopper = ClaimsByShopper()

    @staticmethod
    def key_for(batch_number: int, serial: int) -> str:
        return f"{batch_number}:{serial}"


class RateCounter(_Model):
    """Fixed-window counters: the window is in the key, TTL only tidies up.

    Readers never trust TTL to have deleted an old window (it may lag by days): an old
    window's key is simply never asked for again.
    """

    class Meta(_BaseMeta):
        table_suffix = "rate_counters"

    counter_key = UnicodeAttribute(hash_key=True)
    count = IntegerAttribute(default=0)  # type: ignore[assignment]  # shadows Model.count, never called here
    expires_at = TTLAttribute()


class ParticipantsByShopper(GlobalSecondaryIndex):
    """Every campaign a shopper takes part in: the wallet's balances."""

    class Meta:
        index_name = "by_shopper"
        projection = AllProjection()

    shopper_id = UnicodeAttribute(hash_key=True)
    campaign_id = UnicodeAttribute(range_key=True)


class ParticipantsByRank(GlobalSecondaryIndex):
    """A campaign's participants by claims, spread over a few keys so no key is hot."""

    class Meta:
        index_name = "by_rank"
        projection = AllProjection()

    rank_shard = UnicodeAttribute(hash_key=True)
    claims = IntegerAttribute(range_key=True)


class Participant(_Model):
    """A shopper in one campaign: balances equal the sum of their claims (same transaction)."""

    class Meta(_BaseMeta):
        table_suffix = "participants"

    campaign_id = UnicodeAttribute(hash_key=True)
    shopper_id = UnicodeAttribute(range_key=True)
    points = IntegerAttribute(default=0)
    entries = IntegerAttribute(default=0)
    claims = IntegerAttribute(default=0)
    first_claim_at = UTCDateTimeAttribute(null=True)
    last_claim_at = UTCDateTimeAttribute(null=True)
    active_days = IntegerAttribute(null=True)
    rank_shard = UnicodeAttribute(null=True)
    by_shopper = ParticipantsByShopper()
    by_rank = ParticipantsByRank()


class StatShard(_Model):
    """One shard of a campaign's statistics counters (totals, or one local day).

    The counters themselves are top-level number attributes named by what they count
    (`granted`, `b#<batch>`, `granted@07`...), added to with low-level updates; see
    chalicelib/stats.py. Keys: `total#<shard>` and `day#<YYYY-MM-DD>#<shard>`.
    """

    class Meta(_BaseMeta):
        table_suffix = "stats"

    campaign_id = UnicodeAttribute(hash_key=True)
    stat_key = UnicodeAttribute(range_key=True)


class ShopperAccount(_Model):
    """A shopper known by phone number: keyed by an id derived from the number's keyed hash.

    The clear number is never stored: the hash finds the shopper, the masked form is shown.
    """

    class Meta(_BaseMeta):
        table_suffix = "shoppers"

    shopper_id = UnicodeAttribute(hash_key=True)
    phone_hash = UnicodeAttribute()
    phone_masked = UnicodeAttribute()
    # The number sealed with AES-GCM for owners' exports; never logged, never shown below owner.
    phone_sealed = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    last_sign_in_at = UTCDateTimeAttribute(null=True)


class OtpChallenge(_Model):
    """The one pending sign-in code of a phone number, stored as a keyed hash (and sealed).

    While it is pending, asking again sends the same code (unsealed from `code_sealed`), so
    a stranger asking for someone else's number never cancels the code they hold; a new
    code replaces one that has expired or used its tries. `challenge_id` makes every
    later write conditional on the code it was checked against. Readers check
    `expires_at` themselves (TTL lags).
    """

    class Meta(_BaseMeta):
        table_suffix = "otp_challenges"

    phone_hash = UnicodeAttribute(hash_key=True)
    challenge_id = UnicodeAttribute()
    code_hash = UnicodeAttribute()
    code_sealed = UnicodeAttribute(null=True)
    tries = IntegerAttribute(default=0)
    expires_at = TTLAttribute()
    created_at = UTCDateTimeAttribute()


class Export(_Model):
    """One print-file export of a batch: its plan, the chunks finished so far, the file.

    `done` holds the indexes of finished chunks. Each is added by a conditional ADD, so a
    chunk delivered twice counts once, and the write that completes the set says so in
    its returned item. `finisher` is the lease of the one worker joining the chunks.
    """

    class Meta(_BaseMeta):
        table_suffix = "exports"

    export_id = UnicodeAttribute(hash_key=True)
    brand_id = UnicodeAttribute()
    batch_id = UnicodeAttribute()
    # The batch as it was when the export was asked for: workers never read the batch.
    batch_number = IntegerAttribute()
    key_version = IntegerAttribute()
    quantity = IntegerAttribute()
    base_url = UnicodeAttribute()
    format = UnicodeAttribute()
    file_name = UnicodeAttribute()
    status = UnicodeAttribute(default="queued")
    chunk_size = IntegerAttribute()
    chunks_total = IntegerAttribute()
    fanned_out = BooleanAttribute(default=False)
    done = NumberSetAttribute(null=True)
    part_sizes: MapAttribute = MapAttribute(default=dict)
    finisher = UnicodeAttribute(null=True)
    finish_started_at = UTCDateTimeAttribute(null=True)
    s3_key = UnicodeAttribute(null=True)
    size_bytes = IntegerAttribute(null=True)
    error = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()


class AuditEvent(_Model):
    """One thing an operator did that a brand's owner must be able to review later.

    Changes to a campaign that has started (before and after), status changes, and every
    time phone numbers were shown in clear. Keyed by brand, newest last: `event_key` is
    the instant and a random suffix, so events sort by time and never overwrite.
    """

    class Meta(_BaseMeta):
        table_suffix = "audit"

    brand_id = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()  # the operator's `sub`
    action = UnicodeAttribute()
    target = UnicodeAttribute()
    details = UnicodeAttribute()  # JSON: what changed, or how many numbers were shown
    expires_at = TTLAttribute()


ALL_MODELS: tuple[type[Model], ...] = (
    Campaign,
    Batch,
    Counter,
    CodeState,
    RateCounter,
    Participant,
    StatShard,
    ShopperAccount,
    OtpChallenge,
    Export,
    AuditEvent,
)


def _meta(model: type[Model]) -> type[_BaseMeta]:
    return cast("type[_BaseMeta]", model.Meta)


def bind(settings: Settings | None = None) -> None:
    """Point every model at the tables, region and endpoint of `settings`.

    Called once at import with the process settings; tests call it again to move
    between moto and DynamoDB Local. Nothing connects here: the shared client is built
    on first use, one per region and endpoint.
    """
    settings = settings or get_settings()
    dynamo.bind(settings.region, settings.dynamodb_endpoint, settings.dynamodb_max_attempts)
    for model in ALL_MODELS:
        target = (
            settings.table_name(_meta(model).table_suffix),
            settings.region,
            settings.dynamodb_endpoint,
            settings.dynamodb_max_attempts - 1,
        )
        current = (
            getattr(_meta(model), "table_name", None),
            getattr(_meta(model), "region", None),
            getattr(_meta(model), "host", None),
            getattr(_meta(model), "max_retry_attempts", None),
        )
        if current != target:
            _meta(model).table_name, _meta(model).region, _meta(model).host, _meta(model).max_retry_attempts = target
            model._connection = None


bind()
