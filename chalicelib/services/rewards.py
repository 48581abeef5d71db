"""A brand's reward catalog: gifts and voucher codes that points buy, and the voucher pools brands upload."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from chalicelib.adapters import members, reward_store, sqs
from chalicelib.adapters.models import Reward, VoucherUpload
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict, InvalidFile, InvalidInput, NotFound, PayloadTooLarge
from chalicelib.domain.ids import is_brand_id, is_id, new_id
from chalicelib.domain.lifecycle import VOUCHER_FILE_TRANSITIONS, RewardStatus, VoucherFileStatus, check_move
from chalicelib.domain.phones import keyed_hash, seal_text
from chalicelib.domain.schemas import Instant, Label, Schema, validate
from chalicelib.domain.validation import format_instant, parse_limit, refuse_fields
from chalicelib.services import audit

__all__ = [
    "create_reward",
    "list_rewards",
    "get_reward",
    "update_reward",
    "retire_reward",
    "upload_vouchers",
    "voucher_file",
    "voucher_files",
    "withdraw_file",
    "voucher_job",
    "continue_file",
    "VOUCHER_STEP",
    "load_reward",
    "catalog",
    "catalog_for",
    "MAX_VOUCHERS_PER_FILE",
]

MAX_VOUCHERS_PER_FILE = 20_000
MAX_VOUCHER_FILE_BYTES = 1024 * 1024
# Seconds a request writes codes for, of the API's 30: a file not written by then answers 202 with its
# progress and a job on the worker's queue finishes it (20,000 codes can take longer than 30 s).
WRITE_SECONDS = 18.0
VOUCHER_STEP = "vouchers"
"""The `step` of a voucher job's message on the worker's queue (beside the export steps)."""
_FILE = "file#"
_FILE_HASH = re.compile(r"[0-9a-f]{64}")
_IN_POOL = "already in this reward's pool"
_CLASH = "being added by another file"
_BY_SENDER = "Withdrawn by its sender."
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{3,63}$")
_SERVER_OWNED = ("reward_id", "brand_id", "issued", "available", "status", "created_at", "updated_at", "version")


class NoteIn(Schema):
    """An optional note on an operator's action (retire, ship, cancel): a tracking number, a reason."""

    note: Annotated[str, Field(max_length=300)] | None = None


class RewardIn(Schema):
    name: Label
    description: Annotated[str, Field(max_length=500)] | None = None
    kind: Literal["gift", "voucher"]
    cost: Annotated[int, Field(ge=1, le=10**9)]
    stock: Annotated[int, Field(ge=0, le=10**7)] | None = None  # gifts only: vouchers' stock is their codes
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    per_shopper_limit: Annotated[int, Field(ge=1, le=1000)] | None = None


class RewardChange(Schema):
    name: Label | None = None
    description: Annotated[str, Field(max_length=500)] | None = None
    cost: Annotated[int, Field(ge=1, le=10**9)] | None = None
    stock: Annotated[int, Field(ge=0, le=10**7)] | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    per_shopper_limit: Annotated[int, Field(ge=1, le=1000)] | None = None


def _check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at and ends_at and ends_at <= starts_at:
        raise InvalidInput("ends_at: Must be after starts_at.", field="ends_at")


def _public(reward: Reward) -> dict:
    """What a shopper and an operator both see of a reward."""
    return {
        "reward_id": reward.reward_id,
        "name": reward.name,
        "description": reward.description,
        "kind": reward.kind,
        "cost": int(reward.cost),
        "available": max(0, int(reward.stock or 0) - int(reward.issued or 0)),
        "ends_at": format_instant(reward.ends_at) if reward.ends_at else None,
        "per_shopper_limit": reward.per_shopper_limit,
    }


def _to_dict(reward: Reward) -> dict:
    return {
        **_public(reward),
        "stock": int(reward.stock or 0),
        "issued": int(reward.issued or 0),
        "starts_at": format_instant(reward.starts_at) if reward.starts_at else None,
        "status": reward.status,
        "created_at": format_instant(reward.created_at),
        "updated_at": format_instant(reward.updated_at),
        "version": reward.version,
    }


def load_reward(brand_id: str, reward_id: str, *, consistent: bool = True) -> Reward:
    """A reward of the brand, or 404 (another brand's reward is not found, as an unknown one)."""
    return reward_store.load(brand_id, reward_id, consistent=consistent)


def create_reward(brand_id: str, actor: str, body: dict) -> dict:
    refuse_fields(body, _SERVER_OWNED, "This field is set by the server.")
    if body.get("kind") == "voucher" and body.get("stock") is not None:
        raise InvalidInput(
            "stock: A voucher reward's stock is the codes uploaded to it (POST .../vouchers).", field="stock"
        )
    values = validate(RewardIn, body)
    _check_window(values.starts_at, values.ends_at)
    now = clock.now()
    reward = Reward(
        new_id("rwd"),
        brand_id=brand_id,
        name=values.name,
        description=values.description,
        kind=values.kind,
        cost=values.cost,
        stock=values.stock or 0,
        issued=0,
        starts_at=values.starts_at,
        ends_at=values.ends_at,
        per_shopper_limit=values.per_shopper_limit,
        status=RewardStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        created_by=actor,
    )
    event = audit.transaction_item(
        brand_id, actor, "reward_created", reward.reward_id, {"name": values.name, "cost": values.cost}
    )
    reward_store.add(reward, event)
    return _to_dict(reward)


def list_rewards(brand_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """One page of the brand's catalog, newest first (retired rewards included, marked)."""
    return reward_store.brand_page(brand_id, parse_limit(limit), cursor, _to_dict)


def get_reward(brand_id: str, reward_id: str) -> dict:
    return _to_dict(load_reward(brand_id, reward_id))


def update_reward(brand_id: str, reward_id: str, actor: str, body: dict) -> dict:
    """Change a reward's name, description, cost, window, per-shopper limit or (gifts) stock.

    Stock cannot fall below what has been given out; a voucher reward's stock is its codes.
    """
    refuse_fields(body, (*_SERVER_OWNED, "kind"), "This field cannot be changed.")
    changes = validate(RewardChange, body)
    reward = load_reward(brand_id, reward_id)
    if reward.status == RewardStatus.RETIRED:
        raise Conflict("A retired reward cannot change.")
    before = _to_dict(reward)
    sent = body.keys()
    if "stock" in sent:
        if reward.kind == "voucher":
            raise InvalidInput("stock: A voucher reward's stock is the codes uploaded to it.", field="stock")
        if changes.stock is None or changes.stock < int(reward.issued or 0):
            raise InvalidInput(
                f"stock: Must be at least what has been given out ({int(reward.issued or 0):,}).", field="stock"
            )
    fields = [
        n for n in ("name", "description", "cost", "stock", "starts_at", "ends_at", "per_shopper_limit") if n in sent
    ]
    for name in fields:
        value = getattr(changes, name)
        if value is None and name in ("name", "cost"):
            raise InvalidInput(f"{name}: Cannot be empty.", field=name)
        setattr(reward, name, value)
    _check_window(reward.starts_at, reward.ends_at)
    reward.updated_at = clock.now()
    changed = audit.changes(before, _to_dict(reward))
    reward_store.change(reward, fields, audit.transaction_event(brand_id, actor, "reward_changed", reward_id, changed))
    return _to_dict(reward)


def retire_reward(brand_id: str, reward_id: str, actor: str, body: dict) -> dict:
    """Take a reward out of the catalog: nobody can redeem it any more; redemptions made stand."""
    note = validate(NoteIn, body).note
    reward = load_reward(brand_id, reward_id)
    if reward.status != RewardStatus.RETIRED:
        reward.status = RewardStatus.RETIRED
        reward.updated_at = clock.now()
        event = audit.transaction_event(brand_id, actor, "reward_retired", reward_id, {"note": note} if note else {})
        reward_store.change(reward, ["status"], event)
    return _to_dict(reward)


# --- voucher codes --------------------------------------------------------------------


def _voucher_lines(raw: bytes) -> list[tuple[int, str]]:
    """The codes of an upload with their line numbers; every bad line reported, nothing dropped."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("body: The file is not UTF-8 text.", field="body") from None
    problems: list[dict] = []
    codes: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    rows = _rows(text)
    for number, row in enumerate(rows, start=1):
        if number == 1 and len(row) == 1 and row[0].strip().casefold() == "code":
            continue  # the header
        if not row or (len(row) == 1 and not row[0].strip()):
            if number == len(rows):
                continue  # a blank last line
            problems.append({"line": number, "problem": "empty line"})
            continue
        problem = _code_problem(row, seen)
        if problem:
            problems.append({"line": number, "problem": problem})
            continue
        seen[row[0].strip()] = number
        codes.append((number, row[0].strip()))
    if not codes and not problems:
        raise InvalidInput("body: The file holds no codes.", field="body")
    if len(codes) > MAX_VOUCHERS_PER_FILE:
        raise InvalidInput(f"body: At most {MAX_VOUCHERS_PER_FILE:,} codes per file.", field="body")
    if problems:
        raise InvalidFile(f"{len(problems)} bad line(s); nothing was added.", problems[:100])
    return codes


def _rows(text: str) -> list[list[str]]:
    """The file's rows; a line the csv module cannot read (an unclosed quote, a cell past its field limit)
    is refused by its number, as any bad line is."""
    reader = csv.reader(io.StringIO(text))
    rows: list[list[str]] = []
    try:
        rows.extend(reader)
    except csv.Error as error:
        raise InvalidFile(
            "1 bad line(s); nothing was added.", [{"line": reader.line_num, "problem": f"not readable as CSV: {error}"}]
        ) from None
    return rows


def _code_problem(row: list[str], seen: dict[str, int]) -> str | None:
    """What is wrong with a line that is not empty (`seen`: the codes of the lines before it), or None."""
    if len(row) != 1:
        return f"{len(row)} columns; one code per line"
    code = row[0].strip()
    if not _CODE_RE.match(code):
        return "not a code: 4 to 64 letters, digits, '.', '_' or '-'"
    if code in seen:
        return f"the same code as line {seen[code]}"
    return None


def _code_id(reward_id: str, code: str) -> str:
    return "code#" + keyed_hash(get_phone_hash_pepper(), "voucher", f"{reward_id}:{code}")


def upload_vouchers(brand_id: str, reward_id: str, actor: str, raw: bytes) -> dict:
    """Add a CSV of voucher codes (one per line, an optional `code` header) to a voucher reward.

    A file with any bad line (malformed, a repeat within the file, a code the pool already
    has) adds nothing and names every such line. A good file's codes are numbered and
    written, then put in stock in one step with its audit event; sending the same file
    again (after a failure, or twice at once) finishes that one, and after success changes
    nothing. A file that meets another adding one of its codes at once takes back what it
    wrote and names the line: no code is in a pool twice, and no file is half in stock.
    A file not written within WRITE_SECONDS answers its progress (status `writing`) and is
    finished by a job on the worker's queue; its progress is read at GET .../vouchers/{upload_id}.
    """
    started = clock.monotonic()
    if len(raw) > MAX_VOUCHER_FILE_BYTES:  # refused unread, before anything is looked up
        raise PayloadTooLarge(f"A voucher file may be at most {MAX_VOUCHER_FILE_BYTES // 1024} KB.", field="body")
    _takes_codes(brand_id, reward_id)
    codes = _voucher_lines(raw)
    upload_id = _FILE + hashlib.sha256(raw).hexdigest()
    upload = reward_store.voucher_file(reward_id, upload_id)
    if upload is not None and upload.status == VoucherFileStatus.PUBLISHED:
        return _file_answer(reward_store.load(brand_id, reward_id), upload, added=0)
    lines = {_code_id(reward_id, code): number for number, code in codes}
    problems = reward_store.codes_from_other_files(reward_id, upload_id, lines)
    if problems:
        if upload is not None:  # what an earlier try of this file wrote
            reward_store.withdraw(upload, reason=_IN_POOL, problems=problems, actor=actor)
        raise InvalidFile(f"{len(problems)} code(s) {_IN_POOL}; nothing was added.", problems[:100])
    if upload is None:
        upload = reward_store.reserve(reward_id, upload_id, len(codes), actor)
    pepper = get_phone_hash_pepper()
    sealed = [(seal_text(code, pepper, "voucher"), key) for key, (_, code) in zip(lines, codes, strict=True)]
    outcome = _write_and_publish(brand_id, upload, sealed, actor, until=started + WRITE_SECONDS)
    if isinstance(outcome, InvalidFile):
        raise outcome
    if outcome is None:  # not all written in time: a job on the worker's queue goes on from here
        _queue_the_rest(reward_id, upload.upload_id, sealed)
        upload = reward_store.voucher_file(reward_id, upload.upload_id) or upload
        return _file_answer(reward_store.load(brand_id, reward_id), upload, added=0)
    published, added = outcome
    return _file_answer(reward_store.load(brand_id, reward_id), published, added=added)


def _takes_codes(brand_id: str, reward_id: str) -> None:
    reward = load_reward(brand_id, reward_id)
    if reward.kind != "voucher":
        raise Conflict("Only a voucher reward takes codes; a gift's stock is set on the reward.")
    if reward.status == RewardStatus.RETIRED:
        raise Conflict("A retired reward takes no codes.")


def _write_and_publish(
    brand_id: str, upload: VoucherUpload, sealed: list[tuple[str, str]], actor: str, *, until: float
) -> tuple[VoucherUpload, int] | InvalidFile | None:
    """Write a file's codes from where its record says it got to, and publish it once all are written.

    Answers the published record with the codes this call put in stock (0 when a copy of the request,
    or the job, published it first); None when time ran out first; or the refusal when another file
    holds some of its codes (what it wrote is taken back)."""
    taken, finished = reward_store.write_codes(upload, sealed, clock.now(), until=until)
    if taken:
        order = {key: n for n, (_, key) in enumerate(sealed, start=1)}
        lines = [{"line": n, "problem": "another file is adding this code"} for n in sorted(order[k] for k in taken)]
        reward_store.withdraw(upload, reason=_CLASH, problems=lines, actor=actor)
        return InvalidFile(f"{len(taken)} code(s) {_CLASH}; nothing was added.", lines[:100])
    if not finished:
        return None
    count = int(upload.count)
    author = upload.created_by or actor
    event = audit.transaction_item(brand_id, author, "vouchers_uploaded", upload.reward_id, {"codes": count})
    added = reward_store.put_in_stock(upload.reward_id, upload.upload_id, int(upload.first_seq), count, event)
    reward_store.drop_pending(upload.reward_id, upload.upload_id.removeprefix(_FILE))
    return reward_store.voucher_file(upload.reward_id, upload.upload_id) or upload, count if added else 0


def _queue_the_rest(reward_id: str, upload_id: str, sealed: list[tuple[str, str]]) -> None:
    """Hand a file's writing to the worker: its codes as sealed (never in clear) kept beside its record,
    then a job message. Sent again, the file gives the same codes the same numbers."""
    file_hash = upload_id.removeprefix(_FILE)
    reward_store.keep_pending(reward_id, file_hash, sealed)
    message = {"v": 1, "step": VOUCHER_STEP, "reward_id": reward_id, "upload_id": file_hash}
    sqs.send_messages([json.dumps(message, separators=(",", ":"))])


def voucher_job(message: dict) -> tuple[str, str] | None:
    """The reward and file of a voucher job's message, or None when the message is not one."""
    reward_id, file_hash = message.get("reward_id"), message.get("upload_id")
    if message.get("step") != VOUCHER_STEP or not is_id("rwd", reward_id) or not isinstance(file_hash, str):
        return None
    if not _FILE_HASH.fullmatch(file_hash):
        return None
    return str(reward_id), file_hash


def continue_file(reward_id: str, file_hash: str, *, seconds: float) -> str:
    """The worker's part of a voucher file: write on for at most `seconds`, publish when all is written, and
    queue the next part when time runs out. Run twice, or beside the file sent again, each chunk is written
    once and the file published once. Answers what became of the file (for the worker's log)."""
    started = clock.monotonic()
    upload = reward_store.voucher_file(reward_id, _FILE + file_hash)
    if upload is None or upload.status != VoucherFileStatus.WRITING:
        reward_store.drop_pending(reward_id, file_hash)  # kept again by a copy of the file sent late, if at all
        return "not writing"  # published or withdrawn meanwhile
    reward = reward_store.read(reward_id)
    if reward is None:
        return "reward gone"
    sealed = reward_store.pending(reward_id, file_hash)
    if len(sealed) != int(upload.count):  # kept before the message is sent: a part lost is a bug, said loudly
        raise RuntimeError(f"voucher file {file_hash}: {len(sealed)} of {int(upload.count)} codes kept for its job")
    try:
        outcome = _write_and_publish(reward.brand_id, upload, sealed, "system", until=started + seconds)
    except Conflict:
        return "withdrawn meanwhile"  # by its sender, or a copy of the file sent again that was refused
    if isinstance(outcome, InvalidFile):
        return "refused"
    if outcome is None:
        _queue_the_rest(reward_id, upload.upload_id, sealed)
        return "continued"
    return "published"


def voucher_file(brand_id: str, reward_id: str, file_hash: str) -> dict:
    """A voucher file's progress: writing (codes written of its total), published, or withdrawn (why)."""
    reward = load_reward(brand_id, reward_id)
    state = reward_store.file_state(reward.reward_id, file_hash) if _FILE_HASH.fullmatch(file_hash) else None
    if state is None:
        raise NotFound("No voucher file with this id was sent to this reward.")
    return _file_view(state)


def voucher_files(brand_id: str, reward_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """The files sent to a voucher reward that are writing or published (withdrawn ones are read by id)."""
    reward = load_reward(brand_id, reward_id)
    return reward_store.files_page(reward.reward_id, parse_limit(limit), cursor, _file_view)


def withdraw_file(brand_id: str, reward_id: str, file_hash: str, actor: str, body: dict) -> dict:
    """Stop a file that is still writing and take back what it wrote (its codes may then come in another
    file). A published file's codes are in stock and stay: 409."""
    note = validate(NoteIn, body).note
    reward = load_reward(brand_id, reward_id)
    state = reward_store.file_state(reward.reward_id, file_hash) if _FILE_HASH.fullmatch(file_hash) else None
    if state is None:
        raise NotFound("No voucher file with this id was sent to this reward.")
    if state.status == VoucherFileStatus.WRITING:
        if reward_store.withdraw(state, reason=note or _BY_SENDER, problems=[], actor=actor):
            audit.record(brand_id, actor, "vouchers_withdrawn", reward_id, {"upload_id": file_hash, "note": note})
        state = reward_store.file_state(reward.reward_id, file_hash) or state
    check_move(state.status, VoucherFileStatus.WITHDRAWN, VOUCHER_FILE_TRANSITIONS, "voucher file")
    return _file_view(state)


def _file_view(upload: VoucherUpload) -> dict:
    status = VoucherFileStatus(upload.status)
    count = int(upload.count or 0)
    view = {
        "upload_id": upload.upload_id.split("#", 1)[1],
        "status": status,
        "written": count if status == VoucherFileStatus.PUBLISHED else int(upload.written or 0),
        "total": count,
        "created_at": format_instant(upload.created_at) if upload.created_at else None,
    }
    if status == VoucherFileStatus.WITHDRAWN:
        view.update(
            reason=upload.reason,
            problems=list(upload.problems or []),
            withdrawn_at=format_instant(upload.withdrawn_at) if upload.withdrawn_at else None,
        )
    return view


def _file_answer(reward: Reward, upload: VoucherUpload, *, added: int) -> dict:
    """What a voucher file's request is told: the reward, and the file's progress (a file is in stock whole
    or not at all)."""
    view = _file_view(upload)
    return {
        "reward": _to_dict(reward),
        "added": added,
        "already_added": view["total"] if view["status"] == VoucherFileStatus.PUBLISHED and not added else 0,
        **view,
    }


# --- the shopper's catalog --------------------------------------------------------------


def on_offer(reward: Reward, now: datetime) -> str | None:
    """Why a reward cannot be redeemed now (a refusal code), or None."""
    if reward.status != RewardStatus.ACTIVE:
        return "reward_retired"
    if reward.starts_at and now < reward.starts_at or reward.ends_at and now >= reward.ends_at:
        return "reward_not_available"
    if int(reward.issued or 0) >= int(reward.stock or 0):
        return "out_of_stock"
    return None


def catalog_for(shopper_id: str, brand_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """A brand's catalog as one shopper sees it, with their points (an unknown brand: an empty catalog)."""
    if not is_brand_id(brand_id):
        raise NotFound("No such brand.")
    member = members.read_member(brand_id, shopper_id)
    return catalog(brand_id, member.balance if member else 0, limit=limit, cursor=cursor)


def catalog(brand_id: str, balance: int, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """One page of a brand's rewards as a shopper sees them: those on offer now (or out of
    stock), each with whether `balance` points buy it."""
    now = clock.now()

    def shown(reward: Reward) -> dict:
        blocked = on_offer(reward, now)
        return {
            **_public(reward),
            "affordable": balance >= int(reward.cost),
            "on_offer": blocked is None,
            "refusal": blocked,
        }

    page = reward_store.brand_page(brand_id, parse_limit(limit), cursor, shown)
    items = [item for item in page["items"] if item["refusal"] in (None, "out_of_stock")]
    return {"brand_id": brand_id, "points": balance, "items": items, "next_cursor": page["next_cursor"]}
