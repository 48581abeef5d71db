"""The catalogue's records: rewards, their stock counter, and the voucher pools (files, codes, one item per code)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from botocore.exceptions import ClientError
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo, paging
from chalicelib.adapters.models import Reward, Voucher, VoucherUpload
from chalicelib.adapters.records import create, load_owned
from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict
from chalicelib.domain.ids import id_pattern
from chalicelib.domain.lifecycle import VoucherFileStatus

__all__ = [
    "CURSOR",
    "add",
    "load",
    "read",
    "shopper_limit",
    "save",
    "brand_page",
    "voucher_file",
    "codes_from_other_files",
    "reserve",
    "write_codes",
    "publish",
]

CURSOR = paging.Cursor.of(reward_id=id_pattern("rwd"))
"""A catalogue page's cursor: the last reward's id (the brand comes from the request)."""
_TX_CODES = 40  # codes per transaction: each is a voucher and its uniqueness item


def add(reward: Reward) -> None:
    """Write a new reward (a drawn id that is taken answers 409, never overwrites)."""
    create(reward, Reward.reward_id, "reward")


def load(brand_id: str, reward_id: str, *, consistent: bool = True) -> Reward:
    """A reward of the brand, or NotFound (another brand's reward is not found, as an unknown one)."""
    return load_owned(Reward, brand_id, reward_id, "rwd", "reward", consistent=consistent)


def read(reward_id: str) -> Reward | None:
    """A reward by id whoever's it is (a consistent read), or None."""
    try:
        return Reward.get(reward_id, consistent_read=True)
    except Reward.DoesNotExist:
        return None


def shopper_limit(reward_id: str) -> int | None:
    """The reward's per-shopper allowance, if it has one (None too for a reward that is gone)."""
    try:
        reward = Reward.get(reward_id)
    except Reward.DoesNotExist:
        return None
    return reward.per_shopper_limit or None


def save(reward: Reward, *, stock_changed: bool = False) -> None:
    """Write a reward as changed, on condition it is the version read (and, when its stock changed, that no
    more has been given out than the new stock): a concurrent change or redemption answers 409."""
    condition = Reward.issued <= int(reward.stock or 0) if stock_changed else None
    try:
        reward.save(condition=condition)
    except Exception as exc:
        if dynamo.condition_failed(exc):
            raise Conflict("The reward changed meanwhile (a redemption, or another edit); read it again.") from None
        raise


def brand_page(brand_id: str, limit: int, cursor: str | None, render: Callable[[Reward], dict]) -> dict:
    """One page of the brand's rewards, newest first, as `{items, next_cursor}`."""
    results = Reward.by_brand.query(brand_id, **CURSOR.newest_first(cursor, limit, brand_id=brand_id))
    return paging.page(results, limit, render, CURSOR, lambda: results.last_evaluated_key)


# --- voucher pools ------------------------------------------------------------------------


def voucher_file(reward_id: str, upload_id: str) -> VoucherUpload | None:
    """A voucher file's record (a consistent read), or None before it was first sent."""
    try:
        return VoucherUpload.get(reward_id, upload_id, consistent_read=True)
    except VoucherUpload.DoesNotExist:
        return None


def codes_from_other_files(reward_id: str, upload_id: str, lines: dict[str, int]) -> list[dict]:
    """The lines (`lines`: code item key -> line number) whose code is in the reward's pool from another file."""
    problems = []
    for item in VoucherUpload.batch_get([(reward_id, key) for key in lines]):
        if item.file_id != upload_id:  # a code item records the upload that brought it
            problems.append({"line": lines[item.upload_id], "problem": "already in this reward's pool"})
    return sorted(problems, key=lambda p: p["line"])


def reserve(reward_id: str, upload_id: str, count: int, actor: str) -> VoucherUpload:
    """Number a file's codes: take `count` numbers from the reward's counter, recorded on the file's record."""
    # Low-level: PynamoDB's update would bump the reward's version, and numbering codes is no edit of it.
    counter = dynamo.client().update_item(
        TableName=Reward.Meta.table_name,
        Key={"reward_id": {"S": reward_id}},
        UpdateExpression="ADD numbered :n",
        ExpressionAttributeValues={":n": {"N": str(count)}},
        ReturnValues="UPDATED_NEW",
    )
    last = int(counter["Attributes"]["numbered"]["N"])
    upload = VoucherUpload(
        reward_id,
        upload_id,
        first_seq=last - count + 1,
        count=count,
        status=VoucherFileStatus.WRITING,
        created_by=actor,
        created_at=clock.now(),
    )
    try:
        upload.save(condition=VoucherUpload.upload_id.does_not_exist())
    except Exception as exc:
        if dynamo.condition_failed(exc):
            raise Conflict("This file is being added already; send it again in a moment.") from None
        raise
    return upload


def write_codes(reward_id: str, upload_id: str, first: int, codes: Iterable[tuple[str, str]], now: datetime) -> None:
    """Write a file's codes, numbered from `first`: each `(sealed code, code item key)` as a voucher and the
    item that keeps the code unique in the pool. Written again unchanged when the file is sent again."""
    pending = list(codes)
    for start in range(0, len(pending), _TX_CODES):
        with TransactWrite(
            connection=dynamo.transaction_connection(), client_request_token=dynamo.request_token()
        ) as tx:
            for seq, (sealed, code_key) in enumerate(pending[start : start + _TX_CODES], start=first + start):
                tx.save(Voucher(reward_id, seq, code_sealed=sealed, upload_id=upload_id))
                tx.save(VoucherUpload(reward_id, code_key, file_id=upload_id, created_at=now))


def publish(reward_id: str, upload_id: str, count: int) -> None:
    """Put a file's codes in stock, once: the file moves to published in the same transaction."""
    # The reward's version goes up by one whatever it is: 0 only tells PynamoDB to add to it, unconditioned.
    reward = Reward(reward_id, version=0)
    try:
        with TransactWrite(
            connection=dynamo.transaction_connection(), client_request_token=dynamo.request_token()
        ) as tx:
            tx.update(
                VoucherUpload(reward_id, upload_id),
                actions=[VoucherUpload.status.set(VoucherFileStatus.PUBLISHED)],
                condition=VoucherUpload.status == VoucherFileStatus.WRITING,
            )
            tx.update(reward, actions=[Reward.stock.add(count)], add_version_condition=False)
    except TransactWriteError as error:
        if not isinstance(error.cause, ClientError) or dynamo.cancellation_codes(error.cause) is None:
            raise
        # Already published by a resend that finished first: nothing to add twice.
