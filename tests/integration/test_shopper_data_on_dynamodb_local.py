"""Consents and "my data" on DynamoDB Local: the conditional writes (a notice once per version, a marketing
choice that changes nothing writes nothing) and the shopper's indexes on AWS's own engine."""

from __future__ import annotations

from tests.functional.test_shopper_data import (  # noqa: F401 - fixtures and tests, on the real engine
    _fresh_lookups,
    outbox,
    test_marketing_consent_is_optional_per_brand_and_each_change_is_logged,
    test_my_data_holds_everything_about_the_shopper_and_nothing_of_anyone_else,
    test_my_data_pages_claims_by_cursor_and_refuses_unknown_kinds,
    test_participants_csv_says_which_pseudonyms_may_be_marketed_to,
    test_sign_in_records_the_notice_accepted_once_per_version,
)
