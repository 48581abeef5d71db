"""Pure pieces: settings, ids, instants, labels, limits, and an import with no AWS at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from chalicelib.config import LOCAL_JWT_SECRET, Settings
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.ids import new_id, split_points
from chalicelib.domain.validation import format_instant, parse_json_body, parse_limit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_import_app_needs_no_credentials_region_or_network():
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"}
    code = "import app; print(len(app.app.routes))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 4


# What a cold container must not load before its first scan: each costs milliseconds of
# every cold start (benchmarks/bench_coldstart.py), and app.py imports them on first use.
NOT_FOR_A_SCAN = (
    "pydantic",
    "jwt",
    "cryptography",
    "phonenumbers",
    "qrcode",
    "jinja2",
    "chalicelib.domain.schemas",
    "chalicelib.pages.landing",
    "chalicelib.pages.dashboard",
    "chalicelib.views.codes",
    "chalicelib.services.campaigns",
    "chalicelib.services.draw_schedule",
    "chalicelib.services.draw_runner",
    "chalicelib.services.draw_snapshot",
    "chalicelib.services.draw_notify",
    "chalicelib.views.draws",
    "chalicelib.adapters.draw_store",
)


def test_importing_the_app_loads_the_scan_path_and_nothing_only_other_routes_use():
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"}
    code = (
        "import sys, json, app; "
        f"print(json.dumps([[m for m in {list(NOT_FOR_A_SCAN)!r} if m in sys.modules], "
        "'chalicelib.services.scans' in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[], True]


def test_every_model_transaction_and_client_shares_one_botocore_session_and_dynamodb_client():
    # A fresh process, as a cold container: count the botocore sessions made while every
    # model, the transactions and the other services get their clients (none connects).
    code = """
import botocore.session
made = []
_init = botocore.session.Session.__init__
def _counting(self, *args, **kwargs):
    made.append(self)
    _init(self, *args, **kwargs)
botocore.session.Session.__init__ = _counting
import app
from chalicelib.adapters import aws, dynamo, models
clients = {id(model._get_connection().connection.client) for model in models.ALL_MODELS}
clients |= {id(dynamo.transaction_connection().client), id(dynamo.client())}
aws.client("s3"), aws.client("sqs")
print(len(clients), len(made))
"""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": "/nonexistent",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"], "one DynamoDB client for all models, one botocore session in all"


def test_a_client_of_a_service_the_package_carries_no_data_for_is_refused_everywhere():
    from botocore.config import Config

    from chalicelib.adapters import aws

    # Deployed, botocore loads only the package's data for aws.SERVICES: a new service must be
    # added there, which this says here rather than as an unknown service once deployed.
    with pytest.raises(ValueError, match="kinesis is not in aws.SERVICES"):
        aws.create_client("kinesis", "us-east-1", None, Config())


def test_local_settings_work_with_no_configuration_but_the_stage():
    settings = Settings.from_environ({"STAGE": "local"})
    assert settings.stage == "local" and settings.is_local
    assert settings.jwt_secret == LOCAL_JWT_SECRET
    assert settings.table_name("campaigns") == "qrc-local-campaigns"
    settings.check_jwt()


def test_without_a_stage_nothing_falls_back_to_the_local_secrets():
    # A function deployed without STAGE must refuse every token, not accept forgeable ones.
    settings = Settings.from_environ({})
    assert settings.stage == "" and not settings.is_local
    assert settings.jwt_secret is None and settings.code_keyring is None
    assert settings.shopper_jwt_secret is None and settings.phone_hash_pepper is None
    assert settings.sms_sender == "sns"
    with pytest.raises(RuntimeError, match="STAGE is not set"):
        settings.check_jwt()
    with pytest.raises(RuntimeError, match="STAGE=local"):
        Settings.from_environ({"STAGE": "dev", "JWT_ALGORITHM": "HS256"}).check_jwt()


def test_deployed_stages_never_fall_back_to_the_local_secret():
    settings = Settings.from_environ({"STAGE": "prod"})
    assert settings.jwt_secret is None
    with pytest.raises(RuntimeError):
        settings.check_jwt()
    with pytest.raises(RuntimeError):
        Settings.from_environ({"STAGE": "prod", "JWT_ALGORITHM": "RS256"}).check_jwt()
    with pytest.raises(RuntimeError):
        Settings.from_environ({"JWT_ALGORITHM": "none"}).check_jwt()
    Settings.from_environ({"STAGE": "prod", "JWT_ALGORITHM": "RS256", "JWT_JWKS_URL": "https://idp/jwks"}).check_jwt()


def test_ids_are_unique_and_sort_by_creation():
    ids = [new_id("cmp") for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 30 and i.startswith("cmp_") for i in ids)
    # Same-millisecond ids are random within the millisecond; across milliseconds they sort.
    assert [i[:14] for i in ids] == sorted(i[:14] for i in ids)


def test_split_points_cut_ids_into_ranges_of_about_equal_size():
    from chalicelib.domain import phones

    cuts = split_points("shp", 8)
    assert cuts == sorted(cuts) and len(cuts) == 7 and split_points("shp", 1) == []
    shoppers = [phones.new_shopper_id() for _ in range(8000)]
    sizes = [
        sum(1 for s in shoppers if (lo is None or s >= lo) and (hi is None or s < hi))
        for lo, hi in zip([None, *cuts], [*cuts, None])
    ]
    assert sum(sizes) == 8000 and max(sizes) < 1.15 * 1000 and min(sizes) > 0.85 * 1000
    for parts in (0, 33):
        with pytest.raises(ValueError):
            split_points("shp", parts)


def test_instants_are_returned_in_utc():
    assert format_instant(datetime(2026, 12, 1, 7, 0, 0, 123, tzinfo=UTC)) == "2026-12-01T07:00:00Z"


@pytest.mark.parametrize("raw", [None, b"", b"[]", b"1", b"{", b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe"])
def test_bodies_that_are_not_json_objects_are_refused(raw):
    with pytest.raises(InvalidInput) as excinfo:
        parse_json_body(raw, 1024)
    assert excinfo.value.field == "body"


def test_oversize_body_is_refused_before_parsing():
    with pytest.raises(InvalidInput) as excinfo:
        parse_json_body(b"{" + b" " * 2000 + b"}", 1024)
    assert excinfo.value.code == "body_too_large"


@pytest.mark.parametrize("value,expected", [(None, 25), ("1", 1), ("100", 100)])
def test_limits(value, expected):
    assert parse_limit(value) == expected


@pytest.mark.parametrize("value", ["", "0", "101", "-1", "1.5", "ten", "１０"])
def test_bad_limits(value):
    with pytest.raises(InvalidInput):
        parse_limit(value)


def test_deployed_stages_read_code_keys_from_ssm(monkeypatch):
    from chalicelib.adapters import secrets
    from chalicelib.config import LOCAL_CODE_KEYRING
    from chalicelib.domain.codes import Keyring, mint_code, parse_code

    calls = []

    class FakeSsm:
        def get_parameter(self, Name, WithDecryption):
            calls.append((Name, WithDecryption))
            return {"Parameter": {"Value": LOCAL_CODE_KEYRING}}

    settings = Settings.from_environ({"STAGE": "prod", "CODE_KEYRING_PARAMETER": "/qr-campaigns/prod/code-keyring"})
    assert settings.code_keyring is None
    monkeypatch.setattr(secrets, "client", lambda service: FakeSsm())
    keyring = secrets._load_keyring(settings)
    assert calls == [("/qr-campaigns/prod/code-keyring", True)]
    assert parse_code(mint_code(keyring, 3, 9), Keyring.from_config(LOCAL_CODE_KEYRING)).serial == 9
    with pytest.raises(RuntimeError):
        secrets._load_keyring(Settings.from_environ({"STAGE": "prod"}))
