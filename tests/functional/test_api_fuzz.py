"""Requests generated from docs/openapi.yaml (schemathesis) against the app over moto.

Every operation gets schema-valid requests (positive mode) and requests with one part
made invalid (negative mode), with the token its route expects. Every answer must be a
status and body the spec lists for that operation, never a 5xx, and no request the spec
forbids may be accepted with a 2xx. Positive requests use real ids of the caller's own
campaign, batch and code, so they reach the bodies' validation rather than a 404.
"""

from __future__ import annotations

import base64
import io
import os
import pathlib
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import schemathesis
from chalice.config import Config
from chalice.local import LocalGateway, LocalGatewayException
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from app import ROUTE_AUTH, app
from chalicelib.adapters import aws
from chalicelib.adapters.secrets import get_keyring
from chalicelib.domain import codes
from chalicelib.services import batches, campaigns, draw_schedule, rewards
from tests.support import VALID_CAMPAIGN, draw_line_id, operator_token, shopper_token, with_draw_line

SPEC = pathlib.Path(__file__).parents[2] / "docs" / "openapi.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

schema = schemathesis.openapi.from_path(SPEC)
# FUZZ_EXAMPLES raises the number of requests per operation and mode for a longer run.
schema.config.generation.update(
    modes=["positive", "negative"], max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")), deterministic=True
)


class GatewayApp:
    """A WSGI app in front of chalice's local API Gateway, so schemathesis can send requests in-process."""

    def __init__(self) -> None:
        self.gateway = LocalGateway(app, Config())

    def __call__(self, environ, start_response):
        path = quote(environ.get("PATH_INFO", "/"), safe="/%:@!$&'()*+,;=-._~")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {
            name[5:].replace("_", "-").lower(): value for name, value in environ.items() if name.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            answer = self.gateway.handle_request(environ["REQUEST_METHOD"], path, headers, body)
        except LocalGatewayException as exc:
            answer = {"statusCode": exc.CODE, "headers": exc.headers, "body": exc.body}
        payload = answer.get("body") or b""
        if answer.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        start_response(f"{answer['statusCode']} -", list(answer.get("headers", {}).items()))
        return [payload if isinstance(payload, bytes) else payload.encode()]


@pytest.fixture
def world(store) -> dict:
    """Brand-a's active campaign with one printed batch, the ids positive requests use, and the app."""
    aws.client("s3").create_bucket(Bucket=store.export_bucket)
    aws.client("sqs").create_queue(QueueName=store.export_queue_name)
    now = datetime.now(UTC)
    body = {**with_draw_line(VALID_CAMPAIGN), "starts_at": (now - timedelta(days=1)).isoformat()}
    campaign = campaigns.create_campaign("brand-a", "user-1", body)
    campaigns.change_campaign_status("brand-a", campaign["campaign_id"], "user-1", {"status": "active"})
    batch = batches.mint_batch("brand-a", campaign["campaign_id"], "user-1", {"sku": "FUZZ", "quantity": 5})
    code = codes.mint_code(get_keyring(), batch["batch_number"], 1)
    reward = rewards.create_reward("brand-a", "user-1", {"name": "Mug", "kind": "gift", "cost": 5, "stock": 3})
    draw = draw_schedule.create_draw(
        "brand-a",
        campaign["campaign_id"],
        "user-1",
        {
            "name": "Draw",
            "prize_id": draw_line_id(campaign),
            "winners": 1,
            "draw_at": (now + timedelta(days=2)).isoformat(),
            "entries_until": (now + timedelta(days=1)).isoformat(),
        },
    )
    return {
        "app": GatewayApp(),
        "ids": {
            "campaign_id": campaign["campaign_id"],
            "batch_id": batch["batch_id"],
            "code": code,
            "reward_id": reward["reward_id"],
            "brand_id": "brand-a",
            "draw_id": draw["draw_id"],
        },
        "tokens": {"operator": operator_token(), "shopper": shopper_token(), "public": None},
    }


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_documented(case, world):
    if not case.meta.is_negative_at(ParameterLocation.PATH):
        for name in case.path_parameters or {}:
            if name in world["ids"]:
                case.path_parameters[name] = world["ids"][name]
    # The documented method's caller, also for the methods the spec does not list for the path.
    auth = ROUTE_AUTH[(case.operation.path, case.operation.method.upper())]
    token = world["tokens"][auth]
    # A request made invalid by leaving its token out is sent without one.
    dropped = case.meta.is_negative_at(ParameterLocation.HEADER) and "Authorization" not in (case.headers or {})
    headers = {"Authorization": f"Bearer {token}"} if token and not dropped else {}
    case.call_and_validate(app=world["app"], headers=headers, checks=CHECKS)


def test_the_adapter_passes_requests_through(world):
    """The WSGI adapter itself: method, path, query, headers and body reach the app unchanged."""
    from werkzeug.test import Client as WsgiClient

    client = WsgiClient(world["app"])
    token = world["tokens"]["operator"]
    answer = client.get("/v1/campaigns?limit=1", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and len(answer.json["items"]) == 1
    answer = client.post(
        "/v1/campaigns",
        data=io.BytesIO(b'{"name": ""}'),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and answer.json["error"]["field"] == "name"
