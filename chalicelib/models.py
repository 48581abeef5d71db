"""Every PynamoDB model and index: the one source of the schema."""
from __future__ import annotations

from typing import Iterable

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.config import Settings, get_settings

__all__ = [
    "Campaign", "Rules", "Prize", "Batch", "Counter", "CodeState", "RateCounter",
    "ALL_MODELS", "bind", "create_tables", "delete_tables",
]


class _BaseMeta:
    """Defaults shared by every table; `bind` fills in name, region and endpoint."""

    billing_mode = "PAY_PER_REQUEST"
    connect_timeout_seconds = 2
    read_timeout_seconds = 5


class Rules(MapAttribute):
    """What one granted scan earns, and the caps that bound it."""

    points_per_scan = NumberAttribute(default=0)
    entries_per_scan = NumberAttribute(default=0)
    max_claims_per_participant_per_day = NumberAttribute(null=True)
    max_claims_per_participant = NumberAttribute(null=True)
    budget_points = NumberAttribute(null=True)


class Prize(MapAttribute):
    """An instant-win prize pool of fixed size."""

    prize_id = UnicodeAttribute()
    name = UnicodeAttribute()
    quantity = NumberAttribute()


class Campaign(Model):
    """A promotion of one brand; keyed by brand so another brand's id is never found."""

    class Meta(_BaseMeta):
        table_name = "campaigns"

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

    batch_number = NumberAttribute(hash_key=True)


class Batch(Model):
    """A print batch: one record for N codes, whose codes are derived, never stored."""

    class Meta(_BaseMeta):
        table_name = "batches"

    batch_id = UnicodeAttribute(hash_key=True)
    batch_number = NumberAttribute()
    brand_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    sku = UnicodeAttribute()
    label = UnicodeAttribute(null=True)
    quantity = NumberAttribute()
    key_version = NumberAttribute()
    status = UnicodeAttribute(default="inactive")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    version = VersionAttribute()
    by_campaign = BatchesByCampaign()
    by_number = BatchesByNumber()


class Counter(Model):
    """Named monotonic counters (batch numbers); each increment is a conditional write."""

    class Meta(_BaseMeta):
        table_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


class CodeState(Model):
    """What has happened to one code, keyed by batch number and serial.

    A voided code is written here ahead of any scan, so the claim's
    "does not exist" condition refuses it without an extra read.
    """

    class Meta(_BaseMeta):
        table_name = "code_states"

    code_key = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute()
    batch_id = UnicodeAttribute()
    brand_id = UnicodeAttribute()
    changed_at = UTCDateTimeAttribute()
    changed_by = UnicodeAttribute()

    @staticmethod
    def key_for(batch_number: int, serial: int) -> str:
        return f"{batch_number}:{serial}"


class RateCounter(Model):
    """Fixed-window counters: the window is in the key, TTL only tidies up.

    Readers never trust TTL to have deleted an old window (it may lag by days): an old
    window's key is simply never asked for again.
    """

    class Meta(_BaseMeta):
        table_name = "rate_counters"

    counter_key = UnicodeAttribute(hash_key=True)
    count = NumberAttribute(default=0)
    expires_at = TTLAttribute()


ALL_MODELS: tuple[type[Model], ...] = (Campaign, Batch, Counter, CodeState, RateCounter)
_TABLE_SUFFIXES: dict[type[Model], str] = {
    Campaign: "campaigns",
    Batch: "batches",
    Counter: "counters",
    CodeState: "code_states",
    RateCounter: "rate_counters",
}


def bind(settings: Settings | None = None) -> None:
    """Point every model at the tables, region and endpoint of `settings`.

    Called once at import with the process settings; tests call it again to move
    between moto and DynamoDB Local. Cached connections are dropped so the change
    takes effect on the next call.
    """
    settings = settings or get_settings()
    for model in ALL_MODELS:
        model.Meta.table_name = settings.table_name(_TABLE_SUFFIXES[model])
        model.Meta.region = settings.region
        model.Meta.host = settings.dynamodb_endpoint
        model.Meta.max_retry_attempts = settings.dynamodb_max_attempts - 1
        model._connection = None


def create_tables(models: Iterable[type[Model]] = ALL_MODELS) -> list[str]:
    """Create the tables that do not exist yet; returns the names created."""
    created = []
    for model in models:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
            created.append(model.Meta.table_name)
    return created


def delete_tables(models: Iterable[type[Model]] = ALL_MODELS) -> None:
    """Drop the tables (tests and the dev reset command only)."""
    for model in models:
        if model.exists():
            model.delete_table()


bind()
