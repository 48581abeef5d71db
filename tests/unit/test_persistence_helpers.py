"""The adapters' shared mechanisms: the one retry loop, the one ClientRequestToken rule, the one cursor pair."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError

from chalicelib.adapters import dynamo
from chalicelib.adapters.paging import Cursor, page
from chalicelib.domain import lifecycle
from chalicelib.domain.errors import InvalidInput, InvalidTransition, ServiceBusy
from chalicelib.domain.validation import encode_cursor


def _error(code: str, reasons: list[str] | None = None) -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": "x"}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "TransactWriteItems")


@pytest.fixture
def no_sleep(monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr(dynamo.time, "sleep", pauses.append)
    return pauses


def test_attempts_counts_tries_pauses_between_them_and_answers_busy_past_the_last(no_sleep):
    seen = []
    with pytest.raises(ServiceBusy, match="Many things at once") as raised:
        for attempt in dynamo.attempts(4, "Many things at once; please try again."):
            seen.append(attempt)
            continue
    assert seen == [1, 2, 3, 4]
    assert len(no_sleep) == 3  # a pause before each retry, none before the first try
    assert raised.value.retry_after == 1


def test_attempts_stops_when_the_body_is_done(no_sleep):
    def write() -> int:
        for attempt in dynamo.attempts(6, "busy"):
            if attempt == 2:
                return attempt
        raise AssertionError("unreachable")

    assert write() == 2
    assert len(no_sleep) == 1


def test_transient_tells_a_throttle_or_conflict_from_a_condition():
    assert dynamo.transient(_error("ProvisionedThroughputExceededException"))
    assert dynamo.transient(_error("ThrottlingException"))
    assert dynamo.transient(_error("TransactionCanceledException", ["None", "TransactionConflict"]))
    assert dynamo.transient(_error("TransactionCanceledException", ["ThrottlingError", "None"]))
    # A condition that failed needs a new read and a new decision, never the same request again.
    assert not dynamo.transient(
        _error("TransactionCanceledException", ["ConditionalCheckFailed", "TransactionConflict"])
    )
    assert not dynamo.transient(_error("ConditionalCheckFailedException"))
    assert not dynamo.transient(_error("ValidationException"))
    assert not dynamo.transient(ValueError("x"))
    # PynamoDB's errors carry botocore's as their cause.
    assert dynamo.transient(PutError("x", cause=_error("ThrottlingException")))
    assert not dynamo.transient(PutError("x", cause=None))


def test_request_tokens_are_new_for_every_try_and_fit_dynamodb():
    tokens = {dynamo.request_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(1 <= len(t) <= 36 for t in tokens)


_RDM = "rdm_" + "0" * 26
CURSOR = Cursor.of(created_at=r"[0-9T:.+-]{20,40}", redemption_id=r"rdm_[0-9A-HJKMNP-TV-Z]{26}")


def test_a_full_page_carries_a_cursor_that_gives_the_key_back_with_the_query_own_values():
    last = {"brand_id": {"S": "brd_x"}, "created_at": {"S": "2026-12-07T10:00:00+00:00"}, "redemption_id": {"S": _RDM}}
    cursor = CURSOR.after(last, returned=20, limit=20)
    assert cursor is not None and "=" not in cursor
    assert CURSOR.start_key(cursor, brand_id="brd_y") == {
        "brand_id": {"S": "brd_y"},  # from the request, never from the cursor
        "created_at": {"S": "2026-12-07T10:00:00+00:00"},
        "redemption_id": {"S": _RDM},
    }
    # The wire format is what the API has always answered: base64url of the values joined by "|".
    assert cursor == encode_cursor(f"2026-12-07T10:00:00+00:00|{_RDM}")


def test_a_short_page_or_the_last_never_carries_a_cursor():
    last = {"created_at": "2026-12-07T10:00:00+00:00", "redemption_id": _RDM}
    assert CURSOR.after(last, returned=19, limit=20) is None
    assert CURSOR.after(None, returned=20, limit=20) is None
    assert CURSOR.start_key(None, brand_id="b") is None
    assert CURSOR.start_key("", brand_id="b") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        encode_cursor("2026-12-07T10:00:00+00:00"),  # one value of two
        encode_cursor(f"2026-12-07T10:00:00+00:00|{_RDM}|x"),
        encode_cursor("2026-12-07T10:00:00+00:00|rdm_short"),
        encode_cursor(f"not a time at all, not at all|{_RDM}"),
    ],
)
def test_a_cursor_this_api_did_not_return_is_a_400_naming_cursor(cursor):
    with pytest.raises(InvalidInput) as raised:
        CURSOR.start_key(cursor, brand_id="b")
    assert raised.value.field == "cursor"


def test_page_renders_the_records_and_the_cursor_after_them():
    one = Cursor.of(reward_id=r"rwd_[0-9A-Z]{4}")
    answer = page(["rwd_AAAA", "rwd_BBBB"], 2, lambda r: {"id": r}, one, lambda: {"reward_id": {"S": "rwd_BBBB"}})
    assert answer == {"items": [{"id": "rwd_AAAA"}, {"id": "rwd_BBBB"}], "next_cursor": encode_cursor("rwd_BBBB")}
    short = page(["rwd_AAAA"], 2, lambda r: {"id": r}, one, lambda: {"reward_id": {"S": "rwd_AAAA"}})
    assert short["next_cursor"] is None


@pytest.mark.parametrize(
    "transitions",
    [
        lifecycle.CAMPAIGN_TRANSITIONS,
        lifecycle.BATCH_TRANSITIONS,
        lifecycle.EXPORT_TRANSITIONS,
        lifecycle.DRAW_TRANSITIONS,
        lifecycle.REWARD_TRANSITIONS,
        lifecycle.VOUCHER_FILE_TRANSITIONS,
        lifecycle.REDEMPTION_TRANSITIONS,
    ],
)
def test_every_lifecycle_names_each_status_of_its_enum_and_moves_only_within_it(transitions):
    enum = type(next(iter(transitions)))
    assert set(transitions) == set(enum)
    for targets in transitions.values():
        assert targets <= set(enum)
    # Some status is final, so every lifecycle ends.
    assert any(not targets for targets in transitions.values())


def test_a_move_the_lifecycle_forbids_names_the_status_field():
    assert lifecycle.check_move("pending", "shipped", lifecycle.REDEMPTION_TRANSITIONS, "redemption")
    assert not lifecycle.check_move("shipped", "shipped", lifecycle.REDEMPTION_TRANSITIONS, "redemption")
    with pytest.raises(InvalidTransition) as raised:
        lifecycle.check_move("shipped", "cancelled", lifecycle.REDEMPTION_TRANSITIONS, "redemption")
    assert raised.value.field == "status"
    assert lifecycle.RedemptionStatus.SHIPPED == "shipped"


def test_a_newest_first_page_asks_for_one_page_from_the_cursor():
    one = Cursor.of(reward_id=r"rwd_[0-9A-Z]{4}")
    assert one.newest_first(encode_cursor("rwd_AAAA"), 20, brand_id="brd_x") == {
        "scan_index_forward": False,
        "limit": 20,
        "page_size": 20,
        "last_evaluated_key": {"brand_id": {"S": "brd_x"}, "reward_id": {"S": "rwd_AAAA"}},
    }
    assert one.newest_first(None, 5, brand_id="brd_x")["last_evaluated_key"] is None
