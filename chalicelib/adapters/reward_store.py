"""The catalogue's records: rewards, their stock counter, and the voucher pools (files, codes, one item per code)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from botocore.exceptions import ClientError
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo, paging
from chalicelib.adapters.models import AuditEvent, Reward, Voucher, VoucherUpload
from chalicelib.adapters.records import load_owned
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
    "change",
    "brand_page",
    "voucher_file",
    "codes_from_other_files",
    "reserve",
    "write_codes",
    "withdraw",
    "file_state",
    "files_page",
    "put_in_stock",
    "keep_pending",
    "pending",
    "drop_pending",
    "voucher_seq",
]

CURSOR = paging.Cursor.of(reward_id=id_pattern("rwd"))
"""A catalogue page's cursor: the last reward's id (the brand comes from the request)."""
FILES_CURSOR = paging.Cursor.of(upload_id=r"file#[0-9a-f]{64}")
"""A page of a reward's voucher files: the last file's key (the reward comes from the request)."""
_FILE = "file#"
_OUTCOME = "outcome#"
_PENDING = "pending#"
_PENDING_PER_ITEM = 1000  # about 150 KB of sealed codes and keys: well inside an item's 400 KB
_TX_CODES = 49  # codes per transaction: each a voucher and its uniqueness item, with the file's count (99 of 100)
_ATTEMPTS = 6


def add(reward: Reward, event: dict) -> None:
    """Write a new reward with its audit `event`, in one transaction (a drawn id that is taken answers 409,
    never overwrites)."""
    new = reward.get_save_kwargs_from_instance(condition=Reward.reward_id.does_not_exist())
    if _send([{"Put": new}, event]) is not None:
        raise Conflict("The new reward drew an id that is taken; retry.")
    reward.update_local_version_attribute()  # what save() does once written: the answer shows version 1


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


def change(reward: Reward, fields: Iterable[str], event: AuditEvent) -> None:
    """Write the named `fields` of a reward as changed (and its updated_at) with its audit `event`, in one
    transaction, on condition it is the version read (and, when its stock changed, that no more has been
    given out than the new stock): a concurrent change or redemption answers 409. Only those attributes
    are written: the counters that uploads and redemptions ADD to are never put back to an older read's
    values."""
    actions: list[Action] = [Reward.updated_at.set(reward.updated_at)]
    for name in fields:
        value, attribute = getattr(reward, name), getattr(Reward, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    condition = Reward.issued <= int(reward.stock or 0) if "stock" in fields else None
    for _ in dynamo.attempts(_ATTEMPTS, "Many writes to this reward at once; please try again."):
        try:
            with TransactWrite(
                connection=dynamo.transaction_connection(), client_request_token=dynamo.request_token()
            ) as tx:
                tx.update(reward, actions=actions, condition=condition)
                tx.save(event)
        except TransactWriteError as error:
            if any(r is not None and r.code == "ConditionalCheckFailed" for r in error.cancellation_reasons):
                raise Conflict("The reward changed meanwhile (a redemption, or another edit); read it again.") from None
            if dynamo.transient(error) or any(r is not None for r in error.cancellation_reasons):
                continue  # in conflict with another transaction, or throttled: again
            raise
        return  # the transaction has moved the reward's local version on, as update() would


def brand_page(brand_id: str, limit: int, cursor: str | None, render: Callable[[Reward], dict]) -> dict:
    """One page of the brand's rewards, newest first, as `{items, next_cursor}`."""
    results = Reward.by_brand.query(brand_id, **CURSOR.newest_first(cursor, limit, brand_id=brand_id))
    return paging.page(results, limit, render, CURSOR, lambda: results.last_evaluated_key)


# --- voucher pools ------------------------------------------------------------------------
#
# A file reserves a range of voucher numbers (ADD, never written back), writes its codes in transactions
# that each add their own count to the file's record, and only when every code is written is published:
# one transaction moves the file to published, adds its range to the reward's `pools` and its count to the
# stock. Stock unit n (a redemption takes unit issued + 1) is the n-th number of the published ranges.


def _send(items: list[dict]) -> list[str] | None:
    """Write the items in one transaction: None when written, else each item's cancellation reason."""
    # Low-level: the audit event is a raw item (audit_log.transaction_put), which PynamoDB's TransactWrite
    # does not take; PynamoDB builds this store's own items.
    try:
        dynamo.client().transact_write_items(TransactItems=items, ClientRequestToken=dynamo.request_token())
    except ClientError as error:
        reasons = dynamo.cancellation_codes(error)
        if reasons is None:
            raise
        return reasons
    return None


def voucher_seq(reward: Reward, unit: int) -> int:
    """The voucher number of the reward's stock unit `unit` (1 = the first published code)."""
    left = unit
    for first, count in reward.pools or []:
        if left <= int(count):
            return int(first) + left - 1
        left -= int(count)
    return unit  # a pool published before ranges were recorded: numbered from 1 without gaps


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
    """Number a file's codes: take `count` numbers from the reward's counter, recorded on the file's record.
    The same file sent twice at once: the second finds the first's record and writes the same numbers."""
    # Low-level: PynamoDB's update would bump the reward's version, and numbering codes is no edit of it.
    # A number taken by a try whose record was not written is never used: numbers may skip, never repeat.
    counter = dynamo.client().update_item(
        TableName=Reward.Meta.table_name,
        Key={"reward_id": {"S": reward_id}},
        UpdateExpression="ADD numbered :n",
        ConditionExpression="attribute_exists(reward_id)",
        ExpressionAttributeValues={":n": {"N": str(count)}},
        ReturnValues="UPDATED_NEW",
    )
    last = int(counter["Attributes"]["numbered"]["N"])
    upload = VoucherUpload(
        reward_id,
        upload_id,
        first_seq=last - count + 1,
        count=count,
        written=0,
        status=VoucherFileStatus.WRITING,
        created_by=actor,
        created_at=clock.now(),
    )
    try:
        upload.save(condition=VoucherUpload.upload_id.does_not_exist())
    except Exception as exc:
        if dynamo.condition_failed(exc):
            return VoucherUpload.get(reward_id, upload_id, consistent_read=True)
        raise
    return upload


def write_codes(
    upload: VoucherUpload, codes: Sequence[tuple[str, str]], now: datetime, *, until: float
) -> tuple[list[str], bool]:
    """Write a file's codes, numbered from its first number: each `(sealed code, code item key)` as a voucher
    and the item that keeps the code in the pool once, from where its record says it got to, until all are
    written or the steady clock passes `until`. Each chunk is written once (a chunk found written, by an
    earlier try or a copy of this request, is skipped). Answers the code item keys another file holds,
    which stop the writing (the caller withdraws what was written), and whether every code is written."""
    reward_id, upload_id, first = upload.reward_id, upload.upload_id, int(upload.first_seq)
    # Chunks are written in order, each counted once, so what is counted is a whole number of chunks.
    begun = int(upload.written or 0)
    for start in range(begun, len(codes), _TX_CODES):
        if start > begun and clock.monotonic() > until:  # each request writes one chunk at least
            return [], False
        chunk = codes[start : start + _TX_CODES]
        for _ in dynamo.attempts(_ATTEMPTS, "Many writes to this reward's codes at once; please try again."):
            try:
                _write_chunk(reward_id, upload_id, first + start, chunk, now)
            except TransactWriteError as error:
                reasons = {reason.code for reason in error.cancellation_reasons if reason is not None}
                if "ConditionalCheckFailed" not in reasons:
                    if reasons or dynamo.transient(error):  # in conflict with another transaction, or throttled
                        continue
                    raise
                taken = _chunk_clash(reward_id, upload_id, first + start, chunk)
                if taken:
                    return taken, False
            break
    return [], True


def _write_chunk(reward_id: str, upload_id: str, first: int, chunk: Sequence[tuple[str, str]], now: datetime) -> None:
    with TransactWrite(connection=dynamo.transaction_connection(), client_request_token=dynamo.request_token()) as tx:
        for seq, (sealed, code_key) in enumerate(chunk, start=first):
            tx.save(
                Voucher(reward_id, seq, code_sealed=sealed, upload_id=upload_id, code_key=code_key),
                condition=Voucher.seq.does_not_exist(),
            )
            tx.save(
                VoucherUpload(reward_id, code_key, file_id=upload_id, created_at=now),
                condition=VoucherUpload.upload_id.does_not_exist() | (VoucherUpload.file_id == upload_id),
            )
        tx.update(
            VoucherUpload(reward_id, upload_id),
            actions=[VoucherUpload.written.add(len(chunk))],
            condition=VoucherUpload.status == VoucherFileStatus.WRITING,
        )


def _chunk_clash(reward_id: str, upload_id: str, first: int, chunk: Sequence[tuple[str, str]]) -> list[str]:
    """Why a chunk's write was refused: [] when it is written already (a transaction writes all of it or
    nothing, so its first voucher tells), else the code keys another file holds."""
    try:
        if Voucher.get(reward_id, first, consistent_read=True).upload_id == upload_id:
            return []
    except Voucher.DoesNotExist:
        pass
    keys = [(reward_id, code_key) for _, code_key in chunk]
    taken = [
        item.upload_id for item in VoucherUpload.batch_get(keys, consistent_read=True) if item.file_id != upload_id
    ]
    if not taken:  # the file's record is gone: a copy of this request withdrew it
        raise Conflict("Another copy of this file was refused meanwhile; send it again.")
    return taken


def withdraw(upload: VoucherUpload, *, reason: str, problems: list[dict], actor: str) -> bool:
    """Take back what a file that will not be published wrote. Its record goes first, in one transaction
    with the outcome its sender reads (why, the lines at fault), so no copy of the request writes on; then
    its vouchers (found by the numbers it took) and the code items they name. Run again after a crash, it
    finishes. False when the file was no longer writing (published, or withdrawn by a copy of this
    request): the outcome is not rewritten."""
    reward_id, upload_id, first = upload.reward_id, upload.upload_id, int(upload.first_seq)
    outcome = VoucherUpload(
        reward_id,
        _OUTCOME + upload_id.removeprefix(_FILE),
        count=int(upload.count),
        status=VoucherFileStatus.WITHDRAWN,
        reason=reason,
        problems=problems[:100],
        created_at=upload.created_at,
        created_by=upload.created_by,
        withdrawn_at=clock.now(),
        withdrawn_by=actor,
    )
    try:
        with TransactWrite(
            connection=dynamo.transaction_connection(), client_request_token=dynamo.request_token()
        ) as tx:
            tx.delete(VoucherUpload(reward_id, upload_id), condition=VoucherUpload.status == VoucherFileStatus.WRITING)
            tx.save(outcome)
        moved = True
    except TransactWriteError as error:
        if not any(r is not None and r.code == "ConditionalCheckFailed" for r in error.cancellation_reasons):
            raise
        moved = False
    last = first + int(upload.count) - 1
    numbered = Voucher.query(reward_id, Voucher.seq.between(first, last), consistent_read=True)
    mine = [voucher for voucher in numbered if voucher.upload_id == upload_id]
    # A code item and its voucher are written in one transaction, so the vouchers name every code item.
    keys = [(reward_id, v.code_key) for v in mine if v.code_key]
    items = [i for i in VoucherUpload.batch_get(keys, consistent_read=True) if i.file_id == upload_id]
    with VoucherUpload.batch_write() as writer:
        for item in items:
            writer.delete(item)
    with Voucher.batch_write() as vouchers:  # after the code items: a crash in between leaves vouchers to find them
        for voucher in mine:
            vouchers.delete(voucher)
    drop_pending(reward_id, upload_id.removeprefix(_FILE))
    return moved


def keep_pending(reward_id: str, file_hash: str, sealed: Sequence[tuple[str, str]]) -> None:
    """Keep a file's codes (sealed, never in clear, with their code item keys) for the job that writes the
    rest of it: in parts of _PENDING_PER_ITEM, each written whole. Kept again, the parts are replaced by the
    same codes in the same order."""
    with VoucherUpload.batch_write() as writer:
        for part, first in enumerate(range(0, len(sealed), _PENDING_PER_ITEM)):
            chunk = [list(pair) for pair in sealed[first : first + _PENDING_PER_ITEM]]
            writer.save(VoucherUpload(reward_id, f"{_PENDING}{file_hash}#{part:04d}", codes=json.dumps(chunk)))


def pending(reward_id: str, file_hash: str) -> list[tuple[str, str]]:
    """A file's kept codes in order (empty once it is published or withdrawn)."""
    parts = VoucherUpload.query(
        reward_id, VoucherUpload.upload_id.startswith(f"{_PENDING}{file_hash}#"), consistent_read=True
    )
    return [(str(code), str(key)) for part in parts for code, key in json.loads(part.codes or "[]")]


def drop_pending(reward_id: str, file_hash: str) -> None:
    """Delete a file's kept codes: once it is published or withdrawn, nothing needs them."""
    parts = VoucherUpload.query(
        reward_id,
        VoucherUpload.upload_id.startswith(f"{_PENDING}{file_hash}#"),
        attributes_to_get=["reward_id", "upload_id"],
    )
    with VoucherUpload.batch_write() as writer:
        for part in parts:
            writer.delete(part)


def file_state(reward_id: str, file_hash: str) -> VoucherUpload | None:
    """What became of a file (by its SHA-256): its record while writing or once published, else the
    outcome of its last withdrawal, else None (never sent to this reward)."""
    for key in (_FILE + file_hash, _OUTCOME + file_hash):
        try:
            return VoucherUpload.get(reward_id, key, consistent_read=True)
        except VoucherUpload.DoesNotExist:
            continue
    return None


def files_page(reward_id: str, limit: int, cursor: str | None, render: Callable[[VoucherUpload], dict]) -> dict:
    """One page of the files sent to a reward that are writing or published, by hash, as `{items, next_cursor}`."""
    results = VoucherUpload.query(
        reward_id,
        VoucherUpload.upload_id.startswith(_FILE),
        **FILES_CURSOR.forward(cursor, limit, reward_id=reward_id),
    )
    return paging.page(results, limit, render, FILES_CURSOR, lambda: results.last_evaluated_key)


def put_in_stock(reward_id: str, upload_id: str, first: int, count: int, event: dict) -> bool:
    """Put a file's codes in stock, once, when all are written: the file moves to published, its range joins
    the reward's pools and its count the stock, with the audit `event`, in one transaction. False when it
    was published already (by an earlier try, or a copy of this request)."""
    done = VoucherUpload(reward_id, upload_id).get_update_kwargs_from_instance(
        actions=[VoucherUpload.status.set(VoucherFileStatus.PUBLISHED)],
        condition=(VoucherUpload.status == VoucherFileStatus.WRITING) & (VoucherUpload.written == count),
    )
    # The reward's version goes up by one whatever it is: 0 only tells PynamoDB to add to it, unconditioned.
    stocked = Reward(reward_id, version=0).get_update_kwargs_from_instance(
        actions=[Reward.stock.add(count), Reward.pools.set((Reward.pools | []).append([[first, count]]))],
        condition=Reward.reward_id.exists(),
        add_version_condition=False,
    )
    for _ in dynamo.attempts(_ATTEMPTS, "Many writes to this reward at once; please try again."):
        reasons = _send([{"Update": done}, {"Update": stocked}, event])
        if reasons is None:
            return True
        if "ConditionalCheckFailed" not in reasons:
            continue  # in conflict with another transaction: again
        upload = voucher_file(reward_id, upload_id)
        if upload is not None and upload.status == VoucherFileStatus.PUBLISHED:
            return False
        raise Conflict("This file's codes changed meanwhile; send it again.")
    raise AssertionError("unreachable: attempts raises ServiceBusy past the last try")
