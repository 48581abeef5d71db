"""Every PynamoDB model and index: the one source of the schema."""

from __future__ import annotations

import json
from typing import cast

from pynamodb.attributes import (
    Attribute,
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection.table import TableConnection
from pynamodb.constants import NUMBER, STREAM_NEW_IMAGE
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.adapters import dynamo
from chalicelib.config import Settings, get_settings
from chalicelib.domain.lifecycle import BatchStatus, CampaignStatus, ExportStatus, RewardStatus

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
    "ShopperPhone",
    "OtpChallenge",
    "Export",
    "AuditEvent",
    "TierRung",
    "LoyaltyProgram",
    "BrandSettings",
    "ConsentPurposes",
    "PurposeText",
    "PurposeChange",
    "Member",
    "Reward",
    "Voucher",
    "VoucherUpload",
    "Redemption",
    "Draw",
    "DrawPage",
    "Win",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookDelivery",
    "ALL_MODELS",
    "GUEST_MODELS",
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
    """A registered prize line: an instant-win pool of fixed size (secret winning codes, or per-scan
    odds) or the prizes a campaign's draws award; its announced unit value in the market's minor units,
    the registration or permit reference and the claim window. Lines saved before these existed have
    none of them and are instant lines."""

    prize_id = UnicodeAttribute()
    name = UnicodeAttribute()
    quantity = IntegerAttribute()
    odds_per_million = IntegerAttribute(null=True)
    kind = UnicodeAttribute(null=True)  # a markets.PrizeKind; None is instant
    unit_value = IntegerAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    registration = UnicodeAttribute(null=True)
    claim_days = IntegerAttribute(null=True)


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
    status = UnicodeAttribute(default=CampaignStatus.DRAFT)
    starts_at = UTCDateTimeAttribute()
    ends_at = UTCDateTimeAttribute()
    timezone = UnicodeAttribute()
    rules = Rules()
    prizes = ListAttribute(of=Prize, default=list)
    market = UnicodeAttribute(null=True)  # a MarketCode; None: a campaign saved before markets, unregistered
    # {prize_id: winners} that the campaign's draws award from each draw line, written with each
    # draw in one transaction (draw_store.add); the version condition makes it exact.
    drawn: MapAttribute = MapAttribute(null=True)
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
    # The market the batch was shipped to: a country and, optionally, its provinces or regions
    # (domain/places.py); scans elsewhere count towards the diverted-batch signal.
    market_country = UnicodeAttribute(null=True)
    market_places = UnicodeSetAttribute(null=True)
    status = UnicodeAttribute(default=BatchStatus.INACTIVE)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    version = VersionAttribute()
    by_campaign = BatchesByCampaign()
    by_number = BatchesByNumber()


class Counter(_Model):
    """Named monotonic counters (batch numbers); each increment is a conditional write.

    A counter that holds leases (a brand's running exports) keeps them in `slots`
    (holder -> epoch seconds taken) and uses `value` as its version. A campaign's draws
    counter keeps the draws' ids in `members`, so a shopper's page gets them in one BatchGet.
    """

    class Meta(_BaseMeta):
        table_suffix = "counters"

    name = UnicodeAttribute(hash_key=True)
    value = IntegerAttribute(default=0)
    slots: MapAttribute = MapAttribute(null=True)
    members = UnicodeSetAttribute(null=True)  # a campaign's draw ids (`draws:<campaign_id>`, value = their count)


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
    # The brand tier whose multiplier the claim's points include, and the member's tier
    # before and after it when the claim moved it (members per tier are counted from these).
    tier = UnicodeAttribute(null=True)
    tier_from = UnicodeAttribute(null=True)
    tier_to = UnicodeAttribute(null=True)
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
    # The scan's coarse place (domain/places.py: `VN-HN`, `PH-07`, a country, `unknown`), from the
    # edge's viewer headers; never an address or coordinates. On claims and refusals.
    place = UnicodeAttribute(null=True)
    prev_place = UnicodeAttribute(null=True)  # a claim's participant's place at their previous claim
    # A refusal's code (`<batch number>:<serial>`) and its network's keyed pseudonym: what the
    # integrity signals group tries by (docs/integrity.md).
    code = UnicodeAttribute(null=True)
    network = UnicodeAttribute(null=True)
    # Set on a claimed code an operator quarantined: other shoppers' scans of it are refused as invalid.
    quarantined = BooleanAttribute(null=True)
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
    # The coarse place of the participant's last claim (domain/places.py): the next claim carries it
    # as `prev_place`, so the farm signal sees two claims far apart with no state of its own.
    last_place = UnicodeAttribute(null=True)
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


class ConsentRecord(MapAttribute):
    """One acceptance of the sign-in notice (domain/consent.py): version, purposes, language, when."""

    notice = UnicodeAttribute()
    purposes = UnicodeSetAttribute()
    language = UnicodeAttribute()
    at = UTCDateTimeAttribute()


class MarketingChange(MapAttribute):
    """A brand's marketing consent granted or withdrawn by the shopper, when."""

    brand_id = UnicodeAttribute()
    granted = BooleanAttribute()
    at = UTCDateTimeAttribute()


class AccountsByExpiry(GlobalSecondaryIndex):
    """Accounts by the day they are due for deletion after no sign-in: the retention job's list (sparse)."""

    class Meta:
        index_name = "by_expiry"
        projection = KeysOnlyProjection()

    expiry_shard = UnicodeAttribute(hash_key=True)
    expires_on = UnicodeAttribute(range_key=True)


class PurposeChange(MapAttribute):
    """A brand's own purpose accepted at sign-in (with the notice's version and language) or withdrawn, when."""

    brand_id = UnicodeAttribute()
    purpose = UnicodeAttribute()
    revision = IntegerAttribute()
    granted = BooleanAttribute()
    notice = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute()


class ShopperAccount(_Model):
    """A shopper known by phone number: keyed by a random id that its ShopperPhone item points to.

    The clear number is never stored: the hash finds the shopper (through ShopperPhone), the masked
    form is shown. The id is random, not derived from the number, so once a deletion has removed the
    hash nothing left under the id leads back to the number, and the number signing in again starts
    a new account under a new id.
    """

    class Meta(_BaseMeta):
        table_suffix = "shoppers"

    shopper_id = UnicodeAttribute(hash_key=True)
    # None on a deleted account (below): everything that identifies the person is gone.
    phone_hash = UnicodeAttribute(null=True)
    phone_masked = UnicodeAttribute(null=True)
    # The number sealed with AES-GCM for owners' exports; never logged, never shown below owner.
    phone_sealed = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    last_sign_in_at = UTCDateTimeAttribute(null=True)
    # The account's deletion (services/erasure.py), resumable: running -> done, and the steps done so far.
    erasure_status = UnicodeAttribute(null=True)  # an ErasureStatus
    erasure_steps = UnicodeSetAttribute(null=True)
    erasure_started_at = UTCDateTimeAttribute(null=True)
    erased_at = UTCDateTimeAttribute(null=True)
    sign_ins = IntegerAttribute(null=True)  # how many sign-ins; None on accounts made before it was counted
    # Every acceptance of the notice, once per notice version and purposes (`consent_keys` says which
    # are recorded, so a sign-in adds a record only for a new one).
    consents = ListAttribute(of=ConsentRecord, null=True)
    consent_keys = UnicodeSetAttribute(null=True)
    # The brands the shopper lets market to them now, and every grant and withdrawal (at most
    # MARKETING_CHANGES_PER_DAY a day, services/consents.py).
    marketing_brands = UnicodeSetAttribute(null=True)
    marketing_log = ListAttribute(of=MarketingChange, null=True)
    # The brands' own purposes the shopper accepts now (domain/consent.py grant_key: brand/purpose@revision),
    # and every acceptance and withdrawal, one record a purpose (services/brand_purposes.py).
    purpose_grants = UnicodeSetAttribute(null=True)
    purpose_log = ListAttribute(of=PurposeChange, null=True)
    # The UTC day (YYYY-MM-DD) the account is deleted if it has not signed in again: set by every sign-in,
    # removed by its deletion (domain/retention.py, services/retention.py).
    expiry_shard = UnicodeAttribute(null=True)
    expires_on = UnicodeAttribute(null=True)
    by_expiry = AccountsByExpiry()


class ShopperPhone(_Model):
    """Which account a phone number belongs to: `phone#<keyed hash>` -> the account's random id.

    Kept in the shoppers table beside the accounts (its key shares their key attribute), created with
    the account in one transaction, and deleted with the account's identifying fields at deletion.
    """

    class Meta(_BaseMeta):
        table_suffix = "shoppers"

    key = UnicodeAttribute(hash_key=True, attr_name="shopper_id")
    owner = UnicodeAttribute()  # the account's shopper_id


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
    status = UnicodeAttribute(default=ExportStatus.QUEUED)
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
        # Webhooks' events of operators' changes are derived from this stream (services/webhook_events).
        stream_view_type = STREAM_NEW_IMAGE

    brand_id = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()  # the operator's `sub`
    action = UnicodeAttribute()
    target = UnicodeAttribute()
    details = UnicodeAttribute()  # JSON: what changed, or how many numbers were shown
    expires_at = TTLAttribute()


# --- loyalty: programs, members, rewards, vouchers, redemptions ---------------------------


class TierRung(MapAttribute):
    """One tier of a brand's ladder."""

    name = UnicodeAttribute()
    min_points = IntegerAttribute()
    multiplier_pct = IntegerAttribute(default=100)


class LoyaltyProgram(_Model):
    """What a brand's points do: its tiers and when points expire (one per brand; none: plain points)."""

    class Meta(_BaseMeta):
        table_suffix = "loyalty_programs"

    brand_id = UnicodeAttribute(hash_key=True)
    tiers = ListAttribute(of=TierRung, default=list)
    expire_months = IntegerAttribute(null=True)
    # Points earned before this month (when expiry was set or shortened) count as earned in it.
    expire_from = UnicodeAttribute(null=True)
    timezone = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()
    version = VersionAttribute()


class PurposeText(MapAttribute):
    """One purpose a brand adds to the sign-in notice (domain/consent.py BrandPurpose)."""

    purpose_id = UnicodeAttribute()
    required = BooleanAttribute()
    revision = IntegerAttribute()
    vi = UnicodeAttribute()
    en = UnicodeAttribute()
    fil = UnicodeAttribute()


class ConsentPurposes(_Model):
    """A brand's own purposes shown at sign-in, with their words in each language (one item a brand).

    Its own table rather than an attribute of the loyalty program: every sign-in page reads it, a
    brand without a program has purposes, and the program's version lock would make an owner's edit
    of the notice and a manager's edit of the tiers refuse each other.
    """

    class Meta(_BaseMeta):
        table_suffix = "consent_purposes"

    brand_id = UnicodeAttribute(hash_key=True)
    purposes = ListAttribute(of=PurposeText, default=list)
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()
    version = VersionAttribute()


class BrandSettings(_Model):
    """A brand's settings that are not its loyalty program's: how long personal data stays (domain/retention.py).

    Its own table, as no brand-keyed item fits: a loyalty program's item exists only once the brand sets up a
    program, and needs a time zone. None stored: the defaults apply.
    """

    class Meta(_BaseMeta):
        table_suffix = "brand_settings"

    brand_id = UnicodeAttribute(hash_key=True)
    delivery_months = IntegerAttribute(null=True)
    prize_record_months = IntegerAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()
    version = VersionAttribute()


class MembersByShopper(GlobalSecondaryIndex):
    """Every brand a shopper has points with: the wallet."""

    class Meta:
        index_name = "by_shopper"
        projection = AllProjection()

    shopper_id = UnicodeAttribute(hash_key=True)
    brand_id = UnicodeAttribute(range_key=True)


class MembersByReview(GlobalSecondaryIndex):
    """Members due a review (points expiring, a tier to re-decide), by month: the loyalty job's list."""

    class Meta:
        index_name = "by_review"
        projection = KeysOnlyProjection()

    review_shard = UnicodeAttribute(hash_key=True)
    review_at = UnicodeAttribute(range_key=True)


class Member(_Model):
    """A shopper's points with one brand, across its campaigns.

    Besides these, the item holds the points still unspent from each month they were
    earned in (`l#YYYY-MM`, the lots spending and expiry take from, oldest first) and
    the points earned in each month (`e#YYYY-MM`, the last twelve decide the tier):
    top-level numbers added to by the claim's transaction, read and written through
    chalicelib/adapters/members.py.
    """

    class Meta(_BaseMeta):
        table_suffix = "members"

    brand_id = UnicodeAttribute(hash_key=True)
    shopper_id = UnicodeAttribute(range_key=True)
    balance = IntegerAttribute(default=0)
    earned = IntegerAttribute(default=0)
    spent = IntegerAttribute(default=0)
    expired = IntegerAttribute(default=0)
    tier = UnicodeAttribute(null=True)
    review_at = UnicodeAttribute(null=True)  # YYYY-MM: the month the loyalty job looks again
    review_shard = UnicodeAttribute(null=True)
    by_shopper = MembersByShopper()
    by_review = MembersByReview()


class RewardsByBrand(GlobalSecondaryIndex):
    """A brand's catalog, newest first."""

    class Meta:
        index_name = "by_brand"
        projection = AllProjection()

    brand_id = UnicodeAttribute(hash_key=True)
    reward_id = UnicodeAttribute(range_key=True)


class Reward(_Model):
    """One reward of a brand's catalog: a physical gift, or a voucher code from a pool the brand uploads.

    `issued` counts what was given out; `stock` units in all (for vouchers: the codes
    uploaded). A redemption's transaction takes one only while issued < stock, and adds
    one to `version` too, so an operator's edit made from an older read is refused.
    """

    class Meta(_BaseMeta):
        table_suffix = "rewards"

    reward_id = UnicodeAttribute(hash_key=True)
    brand_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    kind = UnicodeAttribute()  # gift | voucher
    cost = IntegerAttribute()
    stock = IntegerAttribute(default=0)
    issued = IntegerAttribute(default=0)
    numbered = IntegerAttribute(default=0)  # voucher numbers reserved so far (each upload takes a range, by ADD)
    # Voucher ranges in stock, in publish order: [[first seq, count], ...]. Stock unit n is the n-th number of
    # these ranges, so a redemption's unit always names a written code (never a reserved number left empty).
    pools = ListAttribute(null=True)  # type: ignore[var-annotated]
    starts_at = UTCDateTimeAttribute(null=True)
    ends_at = UTCDateTimeAttribute(null=True)
    per_shopper_limit = IntegerAttribute(null=True)
    status = UnicodeAttribute(default=RewardStatus.ACTIVE)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    version = VersionAttribute()
    by_brand = RewardsByBrand()


class Voucher(_Model):
    """One voucher code of a reward's pool, numbered in upload order; given to one redemption at most."""

    class Meta(_BaseMeta):
        table_suffix = "vouchers"

    reward_id = UnicodeAttribute(hash_key=True)
    seq = IntegerAttribute(range_key=True)
    code_sealed = UnicodeAttribute()
    upload_id = UnicodeAttribute()
    code_key = UnicodeAttribute(null=True)  # the item that keeps the code in the pool once (VoucherUpload)
    redemption_id = UnicodeAttribute(null=True)
    assigned_at = UTCDateTimeAttribute(null=True)


class VoucherUpload(_Model):
    """One CSV of voucher codes: the numbers it took, how many are written, whether they are in stock yet.

    Keyed by the file's hash (`file#<sha256>`), so sending the same file again finishes it (after a
    crash) instead of adding its codes twice. Also holds one item per code (`upload_id` =
    `code#<keyed hash>`) so a code is in a reward's pool once, whichever file brought it, and the
    last withdrawal of each file (`outcome#<sha256>`: why, and the lines at fault), which outlives the
    file's own record so its sender can read why nothing was added; and, while a job finishes a file
    too long for its request, the file's codes as sealed (`pending#<sha256>#<part>`).
    """

    class Meta(_BaseMeta):
        table_suffix = "voucher_uploads"

    reward_id = UnicodeAttribute(hash_key=True)
    upload_id = UnicodeAttribute(range_key=True)
    first_seq = IntegerAttribute(null=True)
    count = IntegerAttribute(default=0)  # type: ignore[assignment] # shadows Model.count, never called here
    written = IntegerAttribute(null=True)  # files: codes written so far (each chunk adds its own, once)
    status = UnicodeAttribute(null=True)  # a VoucherFileStatus (files); absent on code items
    file_id = UnicodeAttribute(null=True)  # code items: the upload that brought the code
    created_at = UTCDateTimeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)  # outcomes: why the file was withdrawn
    problems: ListAttribute = ListAttribute(null=True)  # outcomes: the lines at fault, as {"line", "problem"}
    withdrawn_at = UTCDateTimeAttribute(null=True)  # outcomes
    withdrawn_by = UnicodeAttribute(null=True)  # outcomes: the operator, or "system" for a refused job
    codes = UnicodeAttribute(null=True)  # pending parts: JSON [[sealed code, code item key], ...] for the job


class RedemptionsByShopper(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_shopper"
        projection = AllProjection()

    shopper_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class RedemptionsByBrand(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_brand"
        projection = AllProjection()

    brand_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class RedemptionsByPurge(GlobalSecondaryIndex):
    """Shipped or cancelled gifts by the day their delivery details are due for removal (sparse)."""

    class Meta:
        index_name = "by_purge"
        projection = KeysOnlyProjection()

    purge_shard = UnicodeAttribute(hash_key=True)
    purge_on = UnicodeAttribute(range_key=True)


class Redemption(_Model):
    """Points swapped for a reward, once: what was spent (from which lots), what was given, its delivery."""

    class Meta(_BaseMeta):
        table_suffix = "redemptions"

    redemption_id = UnicodeAttribute(hash_key=True)
    brand_id = UnicodeAttribute()
    shopper_id = UnicodeAttribute()
    reward_id = UnicodeAttribute()
    reward_name = UnicodeAttribute()
    kind = UnicodeAttribute()
    cost = IntegerAttribute()
    status = UnicodeAttribute()  # a RedemptionStatus: issued (voucher), pending (gift to ship), shipped, cancelled
    spent_lots: MapAttribute = MapAttribute(default=dict)  # month -> points taken
    voucher_seq = IntegerAttribute(null=True)
    voucher_sealed = UnicodeAttribute(null=True)
    delivery_sealed = UnicodeAttribute(null=True)  # JSON of name, phone, address; sealed
    note = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    fulfilled_at = UTCDateTimeAttribute(null=True)
    cancelled_at = UTCDateTimeAttribute(null=True)
    changed_by = UnicodeAttribute(null=True)
    points_left = IntegerAttribute(null=True)  # the shopper's balance right after, for a resent request
    request_digest = UnicodeAttribute(null=True)  # keyed hash of the redeem body, binding its Idempotency-Key to it
    limit_counted = BooleanAttribute(null=True)  # took one of the shopper's allowance (None: made before this was kept)
    # The UTC day its delivery details go (set by the move to shipped or cancelled, removed with them).
    purge_shard = UnicodeAttribute(null=True)
    purge_on = UnicodeAttribute(null=True)
    by_shopper = RedemptionsByShopper()
    by_brand = RedemptionsByBrand()
    by_purge = RedemptionsByPurge()


# --- lucky draws ------------------------------------------------------------------------


class DrawWinner(MapAttribute):
    """One winner (or alternate) of a draw, in draw order: who, with how many entries, shown masked."""

    rank = IntegerAttribute()
    participant_id = UnicodeAttribute()  # the brand's pseudonym, as in the snapshot
    shopper_id = UnicodeAttribute(null=True)  # the platform's id: for the SMS and the shopper's page, never shown
    entries = IntegerAttribute()
    phone_masked = UnicodeAttribute(null=True)


class DrawsByCampaign(GlobalSecondaryIndex):
    """A campaign's draws in scheduling order (draw ids sort by creation)."""

    class Meta:
        index_name = "by_campaign"
        projection = AllProjection()

    campaign_id = UnicodeAttribute(hash_key=True)
    draw_id = UnicodeAttribute(range_key=True)


class DrawsByDue(GlobalSecondaryIndex):
    """Draws not finished yet, by the instant they are due: the draw runner's list (sparse)."""

    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class Draw(_Model):
    """One lucky draw of a campaign and its state machine: scheduled -> freezing -> frozen -> drawn.

    `seed_sealed` is the secret seed, sealed (AES-GCM under the stage's pepper): only the
    runner (services/draws.py) unseals it, and no view ever renders it; `seed` is the same
    value written in clear by the one conditional write that records the winners. Every
    move is a conditional update on `status` (and the lease holder while freezing), so
    however many runners try, one result is written. Each winner's SMS (by rank): `sms_claims`
    holds the epoch second until which a sender holds it or, after a failed try, its next
    try waits; `sms_tries` counts the tries; `sms_sent` says how it ended ("sent", "no_phone"
    or "gave_up", with the instant), so it goes once. A drawn draw stays on `by_due` (at its
    next SMS try) until every winner's SMS has ended.
    """

    class Meta(_BaseMeta):
        table_suffix = "draws"

    draw_id = UnicodeAttribute(hash_key=True)
    brand_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    prize = UnicodeAttribute()  # the prize line's name when scheduled
    prize_id = UnicodeAttribute(null=True)  # the draw line it awards; None for draws scheduled before lines
    winners_wanted = IntegerAttribute()
    alternates_wanted = IntegerAttribute(null=True)  # absent on draws scheduled before alternates: none
    draw_at = UTCDateTimeAttribute()
    entries_until = UTCDateTimeAttribute()
    one_win_per_participant = BooleanAttribute()
    beacon_source = UnicodeAttribute(null=True)  # what public value will be mixed in, said in advance
    algorithm = UnicodeAttribute()
    seed_commitment = UnicodeAttribute()
    seed_sealed = UnicodeAttribute()
    status = UnicodeAttribute()  # a DrawStatus
    lease_owner = UnicodeAttribute(null=True)
    lease_until = IntegerAttribute(null=True)
    snapshot_sha256 = UnicodeAttribute(null=True)
    snapshot_pages = IntegerAttribute(null=True)
    snapshot_bytes = IntegerAttribute(null=True)
    entries_total = IntegerAttribute(null=True)
    participants = IntegerAttribute(null=True)
    late_claims_read = IntegerAttribute(null=True)
    frozen_at = UTCDateTimeAttribute(null=True)
    beacon = UnicodeAttribute(null=True)
    beacon_at = UTCDateTimeAttribute(null=True)
    seed = UnicodeAttribute(null=True)  # revealed by the write that records the winners
    winners = ListAttribute(of=DrawWinner, null=True)
    # The picks after the winners' (rank 1 steps in first), written by the same write; never texted.
    alternates = ListAttribute(of=DrawWinner, null=True)
    drawn_at = UTCDateTimeAttribute(null=True)
    sms_claims: MapAttribute = MapAttribute(null=True)
    sms_sent: MapAttribute = MapAttribute(null=True)
    sms_tries: MapAttribute = MapAttribute(null=True)
    notified_at = UTCDateTimeAttribute(null=True)
    # Why the runner set a due draw aside (no entries, or fewer than the winners asked for).
    blocked_field = UnicodeAttribute(null=True)
    blocked_reason = UnicodeAttribute(null=True)
    blocked_at = UTCDateTimeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    # After the draw: when every winner's win record was made, how many alternates have been
    # promoted (advanced in the transaction that makes each one's win), and how many prizes passed
    # on with no alternate left (unclaimed).
    wins_made_at = UTCDateTimeAttribute(null=True)
    promoted = IntegerAttribute(null=True)
    unclaimed = IntegerAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    by_campaign = DrawsByCampaign()
    by_due = DrawsByDue()


class DrawPage(_Model):
    """One page of a draw's frozen snapshot: consecutive whole lines of its CSV, at most PAGE_BYTES.

    The pages joined in order are the snapshot whose SHA-256 the draw publishes. Kept in
    DynamoDB, not in the export bucket, whose files expire after a week: a snapshot must be
    there for as long as the draw can be disputed.
    """

    class Meta(_BaseMeta):
        table_suffix = "draw_pages"

    draw_id = UnicodeAttribute(hash_key=True)
    page = IntegerAttribute(range_key=True)
    body = BinaryAttribute(legacy_encoding=False)
    shoppers = BinaryAttribute(legacy_encoding=False)  # the platform's shopper ids of the lines, in order, by \n
    rows = IntegerAttribute()


class WinsByShopper(GlobalSecondaryIndex):
    """A shopper's wins, newest offer first: their wallet's list."""

    class Meta:
        index_name = "by_shopper"
        projection = AllProjection()

    shopper_id = UnicodeAttribute(hash_key=True)
    offered_at = UTCDateTimeAttribute(range_key=True)


class WinsByDue(GlobalSecondaryIndex):
    """Offered wins by their next reminder, SMS or deadline: the draw runner's list of wins (sparse)."""

    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class WinsByPurge(GlobalSecondaryIndex):
    """Closed wins by the day their details (delivery, ID number) are due for removal (sparse)."""

    class Meta:
        index_name = "by_purge"
        projection = KeysOnlyProjection()

    purge_shard = UnicodeAttribute(hash_key=True)
    purge_on = UnicodeAttribute(range_key=True)


class Win(_Model):
    """One winner's (or promoted alternate's) claim on a draw's prize: offered -> accepted -> verified ->
    shipped -> delivered, or declined / rejected / forfeited, which promotes the next alternate.

    Keyed by draw and pick (a winner's rank; alternate j of a draw with k winners is pick k + j, as
    docs/draws.md numbers the picks), so a draw's wins are one Query and each pick has one win ever.
    Delivery details and the ID number are sealed (AES-GCM under the stage's pepper). Its SMS (the
    offer to a promoted alternate, the reminders "d7" and "d1") go once each, as a draw's winners' do:
    `text_claims`, `text_tries`, `text_sent` by kind.
    """

    class Meta(_BaseMeta):
        table_suffix = "wins"

    draw_id = UnicodeAttribute(hash_key=True)
    pick = IntegerAttribute(range_key=True)
    brand_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    draw_name = UnicodeAttribute()
    prize = UnicodeAttribute()
    rank = IntegerAttribute()  # the winner's rank, or the alternate's
    alternate = BooleanAttribute()
    replaces = IntegerAttribute(null=True)  # the pick whose prize an alternate took over
    participant_id = UnicodeAttribute()  # the brand's pseudonym mbr_...
    shopper_id = UnicodeAttribute()  # the platform's id: never shown to a brand
    status = UnicodeAttribute()  # a WinStatus
    offered_at = UTCDateTimeAttribute()
    deadline = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    changed_by = UnicodeAttribute(null=True)
    delivery_sealed = UnicodeAttribute(null=True)  # JSON of name, phone, address; sealed
    id_number_sealed = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)  # the brand's tracking note
    reason = UnicodeAttribute(null=True)  # why the brand rejected it
    passed_to = UnicodeAttribute(null=True)  # a final win: "pick:<n>" of the alternate promoted, or "unclaimed"
    text_claims: MapAttribute = MapAttribute(null=True)
    text_tries: MapAttribute = MapAttribute(null=True)
    text_sent: MapAttribute = MapAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    # The winner's account was deleted while the win was open: once closed, its details stay only the law's
    # least (services/wins.py), not the brand's setting.
    owner_erased = BooleanAttribute(null=True)
    # The UTC day its details go (set by the move that closes it, removed with them).
    purge_shard = UnicodeAttribute(null=True)
    purge_on = UnicodeAttribute(null=True)
    by_shopper = WinsByShopper()
    by_due = WinsByDue()
    by_purge = WinsByPurge()


class RequestAction(MapAttribute):
    """One thing done for a data-subject request: what, by whom, when, and what came of it."""

    action = UnicodeAttribute()  # access, erase, correct, close
    actor = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    result = UnicodeAttribute(null=True)  # JSON: what it did (never a clear personal value)


class RequestsByQueue(GlobalSecondaryIndex):
    """A brand's data-subject requests, open ones first, each part by deadline: the dashboard's list."""

    class Meta:
        index_name = "by_queue"
        projection = AllProjection()

    brand_id = UnicodeAttribute(hash_key=True)
    queue = UnicodeAttribute(range_key=True)


class RequestsByShopper(GlobalSecondaryIndex):
    """The requests that found a shopper's account (sparse): what deleting the account clears of them."""

    class Meta:
        index_name = "by_shopper"
        projection = KeysOnlyProjection()

    shopper_id = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute(range_key=True)


class SubjectRequest(_Model):
    """A data-subject request a brand received by other means (a letter, a call, an email): access,
    correction or deletion, with its legal deadline (domain/markets.py), acted on and closed by owners.

    The phone number it names is never kept: its keyed hash finds the account (`shopper_id`), and only
    the masked form is shown, removed once a deletion has run. `queue` orders the brand's list: open
    requests first by deadline, then closed ones.
    """

    class Meta(_BaseMeta):
        table_suffix = "subject_requests"

    brand_id = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()  # access, correction, deletion
    market = UnicodeAttribute(null=True)  # VN or PH; None: the strictest market's deadline
    channel = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    received_on = UnicodeAttribute()  # YYYY-MM-DD
    deadline = UnicodeAttribute()  # YYYY-MM-DD, the last day the law allows
    status = UnicodeAttribute()  # a SubjectRequestStatus
    queue = UnicodeAttribute()
    shopper_id = UnicodeAttribute(null=True)  # the account the number found; None: no data held
    phone_masked = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute(null=True)
    actions = ListAttribute(of=RequestAction, null=True)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    closed_by = UnicodeAttribute(null=True)
    closed_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # set when closed: kept as long as the audit trail
    by_queue = RequestsByQueue()
    by_shopper = RequestsByShopper()


# --- webhooks: a brand's endpoints, the events outbox, each event's delivery to each endpoint ---


class WebhookEndpoint(_Model):
    """A URL of a brand's that receives the events it subscribed to, signed with its secret.

    The secret is stored sealed (AES-GCM, domain.phones.seal_text) and shown once; during a
    rotation's overlap the previous one signs too, until `previous_until`.
    """

    class Meta(_BaseMeta):
        table_suffix = "webhooks"

    brand_id = UnicodeAttribute(hash_key=True)
    webhook_id = UnicodeAttribute(range_key=True)
    url = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    event_types = ListAttribute(of=UnicodeAttribute)
    status = UnicodeAttribute()  # lifecycle.WebhookStatus
    disabled_reason = UnicodeAttribute(null=True)
    secret_sealed = UnicodeAttribute()
    previous_sealed = UnicodeAttribute(null=True)
    previous_until = UTCDateTimeAttribute(null=True)
    failing_since = UTCDateTimeAttribute(null=True)  # the first failed attempt since the last success
    failures = IntegerAttribute(null=True)  # failed attempts in a row
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class WebhookEvent(_Model):
    """One event of a brand's, written once (its key comes from the change it reports): the outbox.

    `event_key` is the change's instant and the event id, so a replay reads a time range.
    """

    class Meta(_BaseMeta):
        table_suffix = "webhook_events"

    brand_id = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    body = UnicodeAttribute()  # the payload exactly as posted (JSON)
    created_at = UTCDateTimeAttribute()  # when the outbox took it: commit-to-delivery is measured from the change
    expires_at = TTLAttribute()


class DeliveriesByDue(GlobalSecondaryIndex):
    """Deliveries waiting for a try, soonest first: the sweep queues the due ones (sparse: a
    delivery done or given up has no `due`)."""

    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()

    due = UnicodeAttribute(hash_key=True)
    next_try = UnicodeAttribute(range_key=True)


class WebhookDelivery(_Model):
    """One event to one endpoint: every attempt's outcome, the next try, and its one `webhook-id`."""

    class Meta(_BaseMeta):
        table_suffix = "webhook_deliveries"

    webhook_id = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)
    brand_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    status = UnicodeAttribute()  # lifecycle.DeliveryStatus
    attempts = IntegerAttribute()
    first_try_at = UTCDateTimeAttribute(null=True)
    last_try_at = UTCDateTimeAttribute(null=True)
    last_status = IntegerAttribute(null=True)  # the receiver's HTTP status; absent after no answer
    last_error = UnicodeAttribute(null=True)
    last_ms = IntegerAttribute(null=True)
    delivered_at = UTCDateTimeAttribute(null=True)
    due = UnicodeAttribute(null=True)
    next_try = UnicodeAttribute(null=True)  # ISO instant, so the index sorts it
    lease_until = IntegerAttribute(null=True)  # epoch seconds: one sender at a time
    replays = IntegerAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()
    by_due = DeliveriesByDue()


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
    LoyaltyProgram,
    BrandSettings,
    ConsentPurposes,
    Member,
    Reward,
    Voucher,
    VoucherUpload,
    Redemption,
    Draw,
    DrawPage,
    Win,
    SubjectRequest,
    WebhookEndpoint,
    WebhookEvent,
    WebhookDelivery,
)
"""One model per table: the tables to create, copy and read back."""

# Models of items kept in another model's table (bound with it, never created on their own).
GUEST_MODELS: tuple[type[Model], ...] = (ShopperPhone,)


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
    for model in (*ALL_MODELS, *GUEST_MODELS):
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
