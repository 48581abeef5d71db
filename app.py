"""HTTP routes and event handlers: parse the request, call chalicelib, map errors."""

from __future__ import annotations

import functools
import importlib
import json
import logging
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, DynamoDBEvent, Request, SQSEvent

from chalicelib import coldstart  # before the rest: no garbage collection while they load
from chalicelib.adapters import aws
from chalicelib.config import WORK_SECONDS, get_settings
from chalicelib.domain.errors import (
    CampaignNotRunning,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    LimitReached,
    NotFound,
    PayloadTooLarge,
    ServiceBusy,
    Unauthorized,
)
from chalicelib.domain.places import place_of
from chalicelib.domain.validation import parse_idempotency_key, parse_int_param, parse_json_body
from chalicelib.logs import log_event, request_scope
from chalicelib.services import scans
from chalicelib.services.auth import (
    Operator,
    Shopper,
    authenticate_operator,
    authenticate_shopper,
    require_owner,
    require_write,
)


class _Deferred:
    """A module imported on its first use, so that a cold container loads only what the
    requests it serves need: the scan path loads none of these, the shopper page only its own (nor
    pydantic, PyJWT or qrcode, which some of them import). importlib's import lock makes
    the first use safe from any thread."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _module(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._module(), attribute)


if TYPE_CHECKING:
    from chalicelib.pages import dashboard, landing
    from chalicelib.pages import results as results_html
    from chalicelib.rendering import qr
    from chalicelib.services import (
        audit,
        batches,
        brand_purposes,
        campaigns,
        consents,
        draw_schedule,
        erasure,
        exports,
        integrity,
        loyalty,
        redemptions,
        reports,
        rewards,
        shoppers,
        subject_requests,
        webhook_delivery,
        webhook_events,
        webhooks,
        win_offers,
        wins,
    )
    from chalicelib.services import draw_runner as draw_runs
    from chalicelib.services import my_data as my_data_service
    from chalicelib.services import retention as retention_service
    from chalicelib.services import stats_aggregator as stream
    from chalicelib.views import audit as audit_view
    from chalicelib.views import codes as code_view
    from chalicelib.views import draws as draw_view
    from chalicelib.views import integrity as integrity_view
    from chalicelib.views import results as results_view
    from chalicelib.views import stats, wallet
else:
    dashboard = _Deferred("chalicelib.pages.dashboard")
    landing = _Deferred("chalicelib.pages.landing")
    results_html = _Deferred("chalicelib.pages.results")
    qr = _Deferred("chalicelib.rendering.qr")
    audit = _Deferred("chalicelib.services.audit")
    batches = _Deferred("chalicelib.services.batches")
    campaigns = _Deferred("chalicelib.services.campaigns")
    consents = _Deferred("chalicelib.services.consents")
    brand_purposes = _Deferred("chalicelib.services.brand_purposes")
    my_data_service = _Deferred("chalicelib.services.my_data")
    draw_runs = _Deferred("chalicelib.services.draw_runner")
    win_offers = _Deferred("chalicelib.services.win_offers")
    wins = _Deferred("chalicelib.services.wins")
    draw_schedule = _Deferred("chalicelib.services.draw_schedule")
    exports = _Deferred("chalicelib.services.exports")
    integrity = _Deferred("chalicelib.services.integrity")
    integrity_view = _Deferred("chalicelib.views.integrity")
    erasure = _Deferred("chalicelib.services.erasure")
    loyalty = _Deferred("chalicelib.services.loyalty")
    redemptions = _Deferred("chalicelib.services.redemptions")
    reports = _Deferred("chalicelib.services.reports")
    retention_service = _Deferred("chalicelib.services.retention")
    rewards = _Deferred("chalicelib.services.rewards")
    shoppers = _Deferred("chalicelib.services.shoppers")
    subject_requests = _Deferred("chalicelib.services.subject_requests")
    webhooks = _Deferred("chalicelib.services.webhooks")
    webhook_events = _Deferred("chalicelib.services.webhook_events")
    webhook_delivery = _Deferred("chalicelib.services.webhook_delivery")
    stream = _Deferred("chalicelib.services.stats_aggregator")
    audit_view = _Deferred("chalicelib.views.audit")
    code_view = _Deferred("chalicelib.views.codes")
    draw_view = _Deferred("chalicelib.views.draws")
    results_view = _Deferred("chalicelib.views.results")
    stats = _Deferred("chalicelib.views.stats")
    wallet = _Deferred("chalicelib.views.wallet")

app = Chalice(app_name="qr-campaigns")
# Decorator arguments and module code run during `chalice package`: read the environment
# with defaults only, never require a variable here.
app.debug = os.environ.get("STAGE") == "local"
# The regulator's papers are PDF files: API Gateway passes them through as binary for a matching Accept.
app.api.binary_types.append("application/pdf")
app.log.setLevel(logging.INFO)
# No log line of ours names a thread or a process (logging's documented switches: every
# request logs one line, and each record would look them up).
logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False

# The one place where domain errors become HTTP answers.
_STATUS = (
    (PayloadTooLarge, 413),
    (InvalidInput, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (LimitReached, 429),
    (CampaignNotRunning, 410),
    (ServiceBusy, 503),
)
_JSON: dict[str, str | list[str]] = {"Content-Type": "application/json"}
_BODY = json.JSONEncoder(ensure_ascii=False)
# Body-taking routes also accept the content types clients send by mistake (curl -d sends
# a form type, fetch with a string sends text/plain), so they get our error format, not
# chalice's bare 415.
_ACCEPTED_BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"]


def _request() -> Request:
    """The request being served (chalice sets it before calling a route)."""
    request = app.current_request
    assert request is not None, "outside a request"
    return request


def _headers(values: Mapping[str, str]) -> dict[str, str | list[str]]:
    return dict(values)


def _status_of(exc: DomainError) -> int:
    return next((status for cls, status in _STATUS if isinstance(exc, cls)), 400)


def _request_id() -> str:
    request = _request()
    context = getattr(request, "context", None) or {}
    return str(context.get("requestId", "local"))


def error_response(exc: DomainError) -> Response:
    headers = dict(_JSON)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="qr-campaigns"'
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return Response(body={"error": exc.to_dict()}, status_code=_status_of(exc), headers=headers)


def _unavailable() -> Response:
    # Throttled, a conflicting transaction, or no answer from AWS in time (after botocore's
    # own retries): the request may be sent again as it was.
    log_event(app.log, "aws_unavailable", level=logging.WARNING, exc_info=True)
    return error_response(ServiceBusy("The service is busy; please try again in a moment.", retry_after=1))


def _internal_error() -> Response:
    # The trace goes to the log with the request id; the client gets the id only.
    request_id = _request_id()
    log_event(app.log, "unhandled_error", level=logging.ERROR, exc_info=True)
    body = {"error": {"code": "internal_error", "message": f"Something went wrong on our side (request {request_id})."}}
    return Response(body=body, status_code=500, headers=_JSON)


def _access_log(route: str, response: Response, started: float) -> None:
    # One structured line per request, keyed by the request id; never bodies or tokens.
    request = _request()
    error = response.body.get("error", {}) if isinstance(response.body, dict) else {}
    log_event(
        app.log,
        "request",
        method=request.method,
        route=route,
        status=response.status_code,
        error=error.get("code"),
        ms=round((time.perf_counter() - started) * 1000, 1),
    )


# Who may call each route: "operator" (an operator token), "shopper" (a shopper token) or
# "public" (no token). tests/functional/test_isolation.py builds its matrix from app.routes
# and this table, so a route that is missing here, or that lets the wrong caller in,
# fails it.
ROUTE_AUTH: dict[tuple[str, str], str] = {}


def api(
    path: str, methods: tuple[str, ...] = ("GET",), status: int = 200, *, auth: str = "operator", **route_kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a JSON route whose domain errors and crashes are answered in one format."""
    for method in methods:
        ROUTE_AUTH[(path, method)] = auth

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        if set(methods) & {"POST", "PATCH", "PUT"}:
            route_kwargs.setdefault("content_types", _ACCEPTED_BODY_TYPES)
        app.route(path, methods=list(methods), **route_kwargs)(_json_answers(path, view, status))
        return view

    return decorator


def _json_answers(path: str, view: Callable[..., Any], status: int = 200) -> Callable[..., Any]:
    """`view` answering JSON: its result, or its domain error or crash in the one format, logged as `path`."""

    @functools.wraps(view)
    def handler(**params: str) -> Any:
        started = time.perf_counter()
        with request_scope(_request_id()):
            try:
                result = view(**params)
                if not isinstance(result, Response):
                    result = Response(body=_BODY.encode(result), status_code=status, headers=_JSON)
            except DomainError as exc:
                result = error_response(exc)
            except Exception as exc:  # noqa: BLE001 - nothing but a generic answer may reach the client
                result = _unavailable() if aws.transient(exc) else _internal_error()
            # Answers carry tokens, phone numbers and live codes: no cache may keep any of them.
            result.headers.setdefault("Cache-Control", "no-store")
            _access_log(path, result, started)
        return result

    return handler


def _operator() -> Operator:
    return authenticate_operator(_request().headers.get("authorization"), get_settings())


def _writer() -> Operator:
    operator = _operator()
    require_write(operator)
    return operator


def _body() -> dict:
    request = _request()
    media_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise InvalidInput(
            "Send the body as JSON with the header Content-Type: application/json.",
            field="Content-Type",
            code="unsupported_media_type",
        )
    return parse_json_body(request.raw_body, get_settings().max_body_bytes)


def _optional_body() -> dict:
    """The body of an action whose fields are all optional (a note, say): none sent means {}."""
    return _body() if _request().raw_body else {}


def _query(name: str) -> str | None:
    """One query parameter; given twice it is ambiguous, so it is refused rather than one copy picked."""
    params = _request().query_params
    if not params:
        return None
    if name in params and len(params.getlist(name)) > 1:
        raise InvalidInput(f"{name}: give it once.", field=name)
    return params.get(name)


def _qr_options() -> dict:
    ec = _query("ec")
    ec = "M" if ec is None else ec.upper()
    if ec not in qr.EC_LEVELS:
        raise InvalidInput("ec: must be one of L, M, Q, H.", field="ec")
    return {"ec": ec}


@api("/health", auth="public")
def health() -> dict:
    return {"status": "ok"}


@api("/v1/campaigns", methods=("POST",), status=201)
def create_campaign() -> dict:
    operator = _writer()
    return campaigns.create_campaign(operator.brand, operator.sub, _body())


@api("/v1/campaigns")
def list_campaigns() -> dict:
    operator = _operator()
    return campaigns.list_campaigns(operator.brand, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/campaigns/{campaign_id}")
def get_campaign(campaign_id: str) -> dict:
    return campaigns.get_campaign(_operator().brand, campaign_id)


@api("/v1/campaigns/{campaign_id}", methods=("PATCH",))
def update_campaign(campaign_id: str) -> dict:
    operator = _writer()
    return campaigns.update_campaign(operator.brand, campaign_id, operator.sub, _body())


@api("/v1/campaigns/{campaign_id}/status", methods=("POST",))
def change_campaign_status(campaign_id: str) -> dict:
    operator = _writer()
    return campaigns.change_campaign_status(operator.brand, campaign_id, operator.sub, _body())


# --- shoppers ---
# Sign-in needs no token: the phone number and its one-time code are the credentials.


def _source_ip() -> str:
    context = getattr(_request(), "context", None) or {}
    return str((context.get("identity") or {}).get("sourceIp") or "unknown")


def _shopper() -> Shopper:
    """The shopper behind the request's bearer token; operator tokens are refused."""
    return authenticate_shopper(_request().headers.get("authorization"), get_settings())


@api("/v1/shopper/otp", methods=("POST",), status=202, auth="public")
def request_shopper_otp() -> dict:
    return shoppers.request_otp(_body(), _source_ip(), get_settings())


@api("/v1/shopper/session", methods=("POST",), auth="public")
def create_shopper_session() -> dict:
    return shoppers.create_session(_body(), get_settings())


# --- end shoppers ---


# --- landing ---
# The page a phone opens from the QR code. It answers HTML whatever happens (a JSON error
# or a bare 500 means nothing to a shopper), so it has its own handler instead of api().


def _shopper_page(route: str, render: Callable[[str, str], tuple[int, str]], page: Any = landing) -> Response:
    """A shopper page: `render(lang, api_base)` gives (status, body); a crash is `page`'s "try again" page."""
    started = time.perf_counter()
    request = _request()
    lang = landing.pick_language(request.headers.get("accept-language"), _query("lang"))
    # Empty: the page calls the API on its own origin and path prefix (the stage, if any).
    api_base = ""
    with request_scope(_request_id()):
        try:
            status, body = render(lang, api_base)
        except Exception:  # noqa: BLE001 - the shopper gets a page, the trace goes to the log
            log_event(app.log, "landing_failed", level=logging.ERROR, exc_info=True)
            status, body = 503, page.render_unavailable(lang)
        response = Response(body=body, status_code=status, headers=_headers(page.response_headers(lang, api_base)))
        _access_log(route, response, started)
    return response


def _landing_page(route: str, code: str) -> Response:
    def render(lang: str, api_base: str) -> tuple[int, str]:
        try:
            return 200, landing.render_landing(code_view.describe_code(code), lang, code, api_base)
        except NotFound:  # CodeInvalid: unknown, forged, mistyped or voided, all alike
            return 404, landing.render_landing(None, lang, code, api_base)

    return _shopper_page(route, render)


# API Gateway paths are case-sensitive: QR payloads use /S/ (alphanumeric mode), people type /s/.
ROUTE_AUTH[("/s/{code}", "GET")] = ROUTE_AUTH[("/S/{code}", "GET")] = "public"


@app.route("/s/{code}")
def landing_page(code: str) -> Response:
    return _landing_page("/s/{code}", code)


@app.route("/S/{code}")
def landing_page_qr(code: str) -> Response:
    return _landing_page("/S/{code}", code)


# The wallet without a pack in hand (a bookmark, the link on a closed campaign's page): the
# same page, which holds no data and signs the shopper in before it reads anything.
ROUTE_AUTH[("/wallet/{brand_id}", "GET")] = "public"


@app.route("/wallet/{brand_id}")
def wallet_page(brand_id: str) -> Response:
    return _shopper_page("/wallet/{brand_id}", lambda lang, api_base: landing.render_wallet(brand_id, lang, api_base))


# The full privacy notice the sign-in's short notice links to: public, it holds no data.
ROUTE_AUTH[("/privacy", "GET")] = "public"


@app.route("/privacy")
def privacy_page() -> Response:
    return _shopper_page("/privacy", lambda lang, api_base: (200, landing.render_privacy(lang)))


# --- end landing ---


# --- public results ---
# A campaign's lucky draws for anyone, signed in or not: every draw is public once scheduled (its
# commitment is the point of scheduling it), and the drawn ones with the proofs, the masked picks and
# the snapshot that let anyone re-do them (docs/winners.md, "Results page").
ROUTE_AUTH[("/results/{campaign_id}", "GET")] = "public"


def _results_data(campaign_id: str) -> dict:
    if _query("format") != "json":
        raise InvalidInput("format: Must be json, or left out for the page.", field="format")
    return results_view.campaign_results(campaign_id)


@app.route("/results/{campaign_id}")
def results_page(campaign_id: str) -> Response:
    # ?format=json: the same facts as data; any other format is a 400 naming it.
    if "format" in (_request().query_params or ()):
        return _json_answers("/results/{campaign_id}", _results_data)(campaign_id=campaign_id)

    def render(lang: str, api_base: str) -> tuple[int, str]:
        try:
            return 200, results_html.render_results(results_view.campaign_results(campaign_id), lang)
        except NotFound:
            return 404, results_html.render_missing(lang)

    return _shopper_page("/results/{campaign_id}", render, results_html)


@api("/results/draws/{draw_id}", auth="public")
def draw_results(draw_id: str) -> dict:
    # One draw as the results page shows it: the --draw file of verify_draw.py.
    return results_view.draw_result(draw_id)


@api("/results/draws/{draw_id}/entries.csv", auth="public")
def draw_results_entries_csv(draw_id: str) -> Response:
    body, name, next_cursor = results_view.entries_csv(draw_id, _query("cursor"))
    return _csv(body, name, next_cursor)


# --- end public results ---


# --- scans ---


@api("/v1/scans", methods=("POST",), auth="shopper")
def claim_code() -> dict:
    shopper = _shopper()
    # A retry with or without the key finds the claim record itself; with the key, a resent
    # request is also told apart from a second scan of the same code (statistics).
    headers = _request().headers
    key = parse_idempotency_key(headers.get("idempotency-key"))
    # The coarse place CloudFront found for the viewer (infra: its origin request policy forwards
    # these two headers); without them the scan's place is "unknown", never a refusal.
    place = place_of(headers.get("cloudfront-viewer-country"), headers.get("cloudfront-viewer-country-region"))
    return scans.claim_code(shopper.shopper_id, _source_ip(), _body(), key, place=place)


@api("/v1/me", auth="shopper")
def shopper_wallet() -> dict:
    shopper = _shopper()
    return {
        "phone": shopper.phone_masked,
        **wallet.wallet(shopper.shopper_id, limit=_query("limit"), cursor=_query("cursor")),
        "memberships": loyalty.memberships(shopper.shopper_id),
    }


@api("/v1/campaigns/{campaign_id}/batches", methods=("POST",), status=201)
def mint_batch(campaign_id: str) -> dict:
    operator = _writer()
    return batches.mint_batch(operator.brand, campaign_id, operator.sub, _body())


@api("/v1/campaigns/{campaign_id}/batches")
def list_batches(campaign_id: str) -> dict:
    return batches.list_batches(_operator().brand, campaign_id, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/batches/{batch_id}")
def get_batch(batch_id: str) -> dict:
    return batches.get_batch(_operator().brand, batch_id)


@api("/v1/batches/{batch_id}/status", methods=("POST",))
def change_batch_status(batch_id: str) -> dict:
    operator = _writer()
    return batches.change_batch_status(operator.brand, batch_id, operator.sub, _body())


@api("/v1/batches/{batch_id}", methods=("PATCH",))
def update_batch(batch_id: str) -> dict:
    operator = _writer()
    return batches.update_batch(operator.brand, batch_id, operator.sub, _body())


@api("/v1/batches/{batch_id}/codes.csv")
def codes_csv(batch_id: str) -> Response:
    # Print files reveal live codes: viewers may see batches, not their codes.
    body, name = batches.codes_csv(_writer().brand, batch_id, _query("from"), _query("to"))
    return _csv(body, name)


def _csv(body: str, name: str, next_cursor: str | None = None) -> Response:
    headers = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    }
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
        # The next slice is asked for with the same reason, so following the link keeps what it shows.
        why = _query("why")
        reason = f"&why={urllib.parse.quote(why, safe='')}" if why else ""
        headers["Link"] = f'<?cursor={next_cursor}{reason}>; rel="next"'
    return Response(body=body, status_code=200, headers=_headers(headers))


@api("/v1/codes/{code}/status", methods=("POST",))
def change_code_status(code: str) -> dict:
    operator = _writer()
    return batches.void_code(operator.brand, code, operator.sub, _body())


@api("/v1/codes/{code}/qr.svg")
def code_qr_svg(code: str) -> Response:
    ref = batches.find_code(_writer().brand, code)
    svg = qr.render_svg(batches.code_payload(ref), **_qr_options())
    return Response(body=svg, status_code=200, headers={"Content-Type": "image/svg+xml"})


@api("/v1/codes/{code}/qr.png")
def code_qr_png(code: str) -> Response:
    ref = batches.find_code(_writer().brand, code)
    scale = parse_int_param("scale", _query("scale"), minimum=1, maximum=40, default=8)
    png = qr.render_png(batches.code_payload(ref), scale=scale, **_qr_options())
    return Response(body=png, status_code=200, headers={"Content-Type": "image/png"})


@api("/v1/batches/{batch_id}/exports", methods=("POST",), status=202)
def request_export(batch_id: str) -> dict:
    operator = _writer()
    return exports.request_export(operator.brand, batch_id, operator.sub, _body())


@api("/v1/exports/{export_id}")
def get_export(export_id: str) -> dict:
    return exports.get_export(_writer().brand, export_id)


@app.on_sqs_message(queue=os.environ.get("EXPORT_QUEUE_NAME", "qrc-local-exports"), batch_size=1)
def export_worker(event: SQSEvent) -> None:
    # A failure raises, so SQS redelivers the message; handlers are idempotent per chunk.
    for record in event:
        attributes = record.to_dict().get("attributes") or {}
        exports.handle_message(
            record.body,
            attempt=int(attributes.get("ApproximateReceiveCount", "1")),
            receipt_handle=record.receipt_handle,
        )


# --- loyalty: the program, rewards and redemptions ---
# Every role may read; managers and owners change the program and the catalog and ship
# gifts; owners alone see delivery details in clear (managers masked, viewers that one was given).


@api("/v1/loyalty/program")
def get_loyalty_program() -> dict:
    return loyalty.get_program(_operator().brand)


@api("/v1/loyalty/program", methods=("PUT",))
def put_loyalty_program() -> dict:
    operator = _writer()
    return loyalty.put_program(operator.brand, operator.sub, _body())


@api("/v1/loyalty/stats")
def get_loyalty_stats() -> dict:
    return loyalty.loyalty_stats(_operator().brand)


@api("/v1/rewards", methods=("POST",), status=201)
def create_reward() -> dict:
    operator = _writer()
    return rewards.create_reward(operator.brand, operator.sub, _body())


@api("/v1/rewards")
def list_rewards() -> dict:
    return rewards.list_rewards(_operator().brand, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/rewards/{reward_id}")
def get_reward(reward_id: str) -> dict:
    return rewards.get_reward(_operator().brand, reward_id)


@api("/v1/rewards/{reward_id}", methods=("PATCH",))
def update_reward(reward_id: str) -> dict:
    operator = _writer()
    return rewards.update_reward(operator.brand, reward_id, operator.sub, _body())


@api("/v1/rewards/{reward_id}/retire", methods=("POST",))
def retire_reward(reward_id: str) -> dict:
    operator = _writer()
    return rewards.retire_reward(operator.brand, reward_id, operator.sub, _optional_body())


# The file is read as CSV whatever its declared type (a spreadsheet's export may say
# text/plain): a body that is not one is answered with its bad lines, not a bare 415.
@api(
    "/v1/rewards/{reward_id}/vouchers",
    methods=("POST",),
    content_types=["text/csv", "text/plain", "application/json", "application/octet-stream"],
)
def upload_vouchers(reward_id: str) -> dict | Response:
    operator = _writer()
    raw = _request().raw_body or b""
    answer = rewards.upload_vouchers(
        operator.brand, reward_id, operator.sub, raw.encode() if isinstance(raw, str) else raw
    )
    if answer["status"] == "writing":  # not all written yet: a job goes on, its progress at Location
        location = f"/v1/rewards/{reward_id}/vouchers/{answer['upload_id']}"
        return Response(body=_BODY.encode(answer), status_code=202, headers={**_JSON, "Location": location})
    return answer


@api("/v1/rewards/{reward_id}/vouchers")
def list_voucher_files(reward_id: str) -> dict:
    operator = _operator()
    return rewards.voucher_files(operator.brand, reward_id, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/rewards/{reward_id}/vouchers/{upload_id}")
def get_voucher_file(reward_id: str, upload_id: str) -> dict:
    return rewards.voucher_file(_operator().brand, reward_id, upload_id)


@api("/v1/rewards/{reward_id}/vouchers/{upload_id}/withdraw", methods=("POST",))
def withdraw_voucher_file(reward_id: str, upload_id: str) -> dict:
    operator = _writer()
    return rewards.withdraw_file(operator.brand, reward_id, upload_id, operator.sub, _optional_body())


@api("/v1/redemptions")
def list_redemptions() -> dict:
    operator = _operator()
    return redemptions.list_redemptions(
        operator.brand,
        operator.sub,
        operator.role,
        status=_query("status"),
        reward_id=_query("reward_id"),
        limit=_query("limit"),
        cursor=_query("cursor"),
        why=_query("why"),
    )


@api("/v1/redemptions.csv")
def redemptions_csv() -> Response:
    # For shipping: writers only; owners who say why get delivery details in clear (audited), others masked.
    operator = _writer()
    body, next_cursor = redemptions.redemptions_csv(
        operator.brand, operator.sub, operator.role, status=_query("status"), cursor=_query("cursor"), why=_query("why")
    )
    return _csv(body, "redemptions.csv", next_cursor)


@api("/v1/redemptions/{redemption_id}/fulfil", methods=("POST",))
def fulfil_redemption(redemption_id: str) -> dict:
    operator = _writer()
    return redemptions.fulfil(operator.brand, redemption_id, operator.sub, _optional_body())


@api("/v1/redemptions/{redemption_id}/cancel", methods=("POST",))
def cancel_redemption(redemption_id: str) -> dict:
    operator = _writer()
    return redemptions.cancel(operator.brand, redemption_id, operator.sub, _optional_body())


@api("/v1/brands/{brand_id}/rewards", auth="shopper")
def brand_catalog(brand_id: str) -> dict:
    shopper = _shopper()
    return rewards.catalog_for(shopper.shopper_id, brand_id, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/me/redemptions", methods=("POST",), status=201, auth="shopper")
def redeem() -> dict:
    shopper = _shopper()
    key = parse_idempotency_key(_request().headers.get("idempotency-key"))
    return redemptions.redeem(shopper.shopper_id, _body(), key)


@api("/v1/me/redemptions", auth="shopper")
def my_redemptions() -> dict:
    shopper = _shopper()
    return redemptions.my_redemptions(shopper.shopper_id, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/me/deletion", methods=("POST",), status=202, auth="shopper")
def request_account_deletion() -> dict:
    shopper = _shopper()
    return erasure.request_deletion(shopper.shopper_id, _optional_body(), get_settings())


@api("/v1/me/deletion/confirm", methods=("POST",), auth="shopper")
def confirm_account_deletion() -> dict:
    shopper = _shopper()
    return erasure.confirm_deletion(shopper.shopper_id, _body(), get_settings())


# --- retention: how long personal data stays ---
# Every role reads the settings and what the job removed (the dashboard); owners alone change them.


@api("/v1/retention")
def get_retention() -> dict:
    return retention_service.get_settings(_operator().brand)


@api("/v1/retention", methods=("PUT",))
def put_retention() -> dict:
    operator = _operator()
    require_owner(operator)
    return retention_service.put_settings(operator.brand, operator.sub, _body())


@app.schedule(Rate(1, unit=Rate.HOURS), name="retention")
def retention(event: CloudWatchEvent) -> dict:
    # Removes delivery details, closed wins' details and inactive accounts whose day has come; each
    # removal is conditional and counted in the same transaction, so a late or repeated run removes
    # nothing twice, and a run cut short leaves the rest for the next hour.
    return retention_service.run_due(budget_seconds=WORK_SECONDS["retention"])


@app.schedule(Rate(1, unit=Rate.HOURS), name="loyalty_review")
def loyalty_review(event: CloudWatchEvent) -> dict:
    # Expires points that are due and re-decides tiers; idempotent, so a late or repeated
    # run changes nothing more than one on time.
    return loyalty.review_due(budget_seconds=WORK_SECONDS["loyalty_review"])


# --- lucky draws ---
# Every role may read a draw and its snapshot (participants are shown by the brand's
# pseudonyms, phones masked); managers and owners schedule, give the beacon and run.


@api("/v1/campaigns/{campaign_id}/draws", methods=("POST",), status=201)
def create_draw(campaign_id: str) -> dict:
    operator = _writer()
    return draw_schedule.create_draw(operator.brand, campaign_id, operator.sub, _body())


@api("/v1/campaigns/{campaign_id}/draws")
def list_draws(campaign_id: str) -> dict:
    return draw_schedule.list_draws(_operator().brand, campaign_id, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/draws/{draw_id}")
def get_draw(draw_id: str) -> dict:
    return draw_schedule.get_draw(_operator().brand, draw_id)


@api("/v1/draws/{draw_id}/run", methods=("POST",))
def run_draw(draw_id: str) -> dict:
    operator = _writer()
    _optional_body()  # no fields; a body sent is still checked (size, JSON)
    return draw_runs.run_draw(operator.brand, draw_id, operator.sub)


@api("/v1/draws/{draw_id}/beacon", methods=("POST",))
def post_draw_beacon(draw_id: str) -> dict:
    operator = _writer()
    return draw_schedule.post_beacon(operator.brand, draw_id, operator.sub, _body())


@api("/v1/draws/{draw_id}/entries.csv")
def draw_entries_csv(draw_id: str) -> Response:
    body, name, next_cursor = draw_view.entries_csv(_operator().brand, draw_id, _query("cursor"))
    return _csv(body, name, next_cursor)


# --- the shopper's data: consents and "my data" (docs/privacy.md) ---


@api("/v1/me/consents", auth="shopper")
def my_consents() -> dict:
    return consents.my_consents(_shopper().shopper_id)


@api("/v1/me/consents", methods=("PUT",), auth="shopper")
def put_my_consents() -> dict:
    shopper = _shopper()
    return consents.set_marketing(shopper.shopper_id, _body())


@api("/v1/me/consents/withdrawals", methods=("POST",), auth="shopper")
def withdraw_my_consent() -> dict:
    shopper = _shopper()
    brand_purposes.withdraw(shopper.shopper_id, _body())
    return consents.my_consents(shopper.shopper_id)


# A brand's own purposes under the sign-in notice: every role reads them, owners alone change them (they
# speak for the brand to every shopper), and the sign-in page reads them without a token: the same words
# for everyone, like /privacy.


@api("/v1/consent-purposes")
def get_consent_purposes() -> dict:
    return brand_purposes.get_purposes(_operator().brand)


@api("/v1/consent-purposes", methods=("PUT",))
def put_consent_purposes() -> dict:
    operator = _operator()
    require_owner(operator)
    return brand_purposes.put_purposes(operator.brand, operator.sub, _body())


@api("/v1/brands/{brand_id}/purposes", auth="public")
def brand_purposes_shown(brand_id: str) -> dict:
    return brand_purposes.published(brand_id)


@api("/v1/me/data", auth="shopper")
def my_data() -> dict:
    return my_data_service.my_data(_shopper().shopper_id)


@api("/v1/me/data/{kind}", auth="shopper")
def my_data_page(kind: str) -> dict:
    shopper = _shopper()
    return my_data_service.my_data_page(shopper.shopper_id, kind, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/me/draws", auth="shopper")
def my_draws() -> dict:
    return draw_schedule.shopper_draws(_shopper().shopper_id)


# --- claiming a win: the winner accepts or declines; managers and owners verify, ship, deliver or
# reject; every role reads a draw's wins, delivery details in clear to owners only (audited).


@api("/v1/me/wins", auth="shopper")
def my_wins() -> dict:
    return wins.my_wins(_shopper().shopper_id)


@api("/v1/me/wins/{draw_id}/{pick}/accept", methods=("POST",), auth="shopper")
def accept_win(draw_id: str, pick: str) -> dict:
    return wins.accept(_shopper().shopper_id, draw_id, pick, _body())


@api("/v1/me/wins/{draw_id}/{pick}/decline", methods=("POST",), auth="shopper")
def decline_win(draw_id: str, pick: str) -> dict:
    shopper = _shopper()
    _optional_body()  # no fields; a body sent is still checked (size, JSON)
    return wins.decline(shopper.shopper_id, draw_id, pick)


@api("/v1/draws/{draw_id}/wins")
def list_draw_wins(draw_id: str) -> dict:
    operator = _operator()
    return wins.draw_wins(operator.brand, operator.sub, operator.role, draw_id, _query("why"))


@api("/v1/draws/{draw_id}/wins/{pick}/status", methods=("POST",))
def move_draw_win(draw_id: str, pick: str) -> dict:
    operator = _writer()
    return wins.move_win(operator.brand, operator.sub, draw_id, pick, _body())


@app.schedule(Rate(1, unit=Rate.MINUTES), name="draw_runner")
def draw_runner(event: CloudWatchEvent) -> dict:
    # Every minute: freeze, draw and notify whatever is due, then forfeit lapsed wins, promote
    # alternates and send reminders, and finish account deletions a crash interrupted. Each step
    # is a conditional write or transaction, so a late, repeated or concurrent run (or POST /run)
    # changes nothing twice.
    done = draw_runs.run_due()
    win_offers.run_due_wins()  # logs what it did (wins_run)
    erasure.resume_running()  # account deletions a crash left halfway
    return done


# --- the regulator's papers ---
# Writers only, like redemptions.csv: owners who say why get the winners' details as given (audited), others masked.


def _paper(campaign_id: str, file_format: str) -> Response:
    operator = _writer()
    body, content_type, name = reports.results_report(
        operator.brand, operator.sub, operator.role, campaign_id, file_format, _query("why")
    )
    if file_format == "csv":
        return _csv(body.decode(), name)
    headers = {"Content-Type": content_type, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body=body, status_code=200, headers=_headers(headers))


@api("/v1/campaigns/{campaign_id}/reports/results.csv")
def results_report_csv(campaign_id: str) -> Response:
    return _paper(campaign_id, "csv")


@api("/v1/campaigns/{campaign_id}/reports/results.pdf")
def results_report_pdf(campaign_id: str) -> Response:
    return _paper(campaign_id, "pdf")


# --- statistics ---
# Every operator role may read statistics; phone numbers show in clear to owners only, when they say why.


@api("/v1/campaigns/{campaign_id}/stats")
def campaign_stats(campaign_id: str) -> dict:
    return stats.campaign_stats(_operator().brand, campaign_id)


@api("/v1/campaigns/{campaign_id}/stats/timeseries")
def campaign_timeseries(campaign_id: str) -> dict:
    return stats.timeseries(
        _operator().brand, campaign_id, granularity=_query("granularity"), start=_query("from"), end=_query("to")
    )


@api("/v1/campaigns/{campaign_id}/stats/batches")
def campaign_batch_stats(campaign_id: str) -> dict:
    return stats.batch_stats(_operator().brand, campaign_id)


def _phones_why(operator: Operator) -> str | None:
    """The reason an owner gives to see phone numbers in clear; None (numbers masked) for anyone else or none."""
    why = audit.reason(operator.brand, _query("why"))
    return why if operator.role == "owner" else None


def _phones_seen(operator: Operator, campaign_id: str, where: str, numbers: int, why: str | None) -> None:
    # Every time phone numbers are shown in clear, the owner's audit trail says who, when, what and why.
    if why is not None and numbers:
        details = {"where": where, "numbers": numbers, "why": why}
        audit.record(operator.brand, operator.sub, "phones_viewed", campaign_id, details)


@api("/v1/campaigns/{campaign_id}/stats/participants")
def campaign_participant_stats(campaign_id: str) -> dict:
    operator = _operator()
    why = _phones_why(operator)
    answer = stats.participant_stats(operator.brand, campaign_id, reveal_phones=why is not None)
    _phones_seen(operator, campaign_id, "stats/participants", len(answer["top"]), why)
    return answer


@api("/v1/campaigns/{campaign_id}/participants.csv")
def participants_csv(campaign_id: str) -> Response:
    operator = _operator()
    why = _phones_why(operator)
    part = stats.participants_csv(operator.brand, campaign_id, reveal_phones=why is not None, cursor=_query("cursor"))
    _phones_seen(operator, campaign_id, "participants.csv", part.rows, why)
    return _csv(part.body, part.file_name, part.next_cursor)


# --- data-subject requests received by other means (docs/privacy.md): owners only ---


def _owner() -> Operator:
    operator = _operator()
    require_owner(operator)
    return operator


@api("/v1/subject-requests", methods=("POST",), status=201)
def create_subject_request() -> dict:
    operator = _owner()
    return subject_requests.create(operator.brand, operator.sub, _body(), get_settings())


@api("/v1/subject-requests")
def list_subject_requests() -> dict:
    operator = _owner()
    return subject_requests.list_requests(operator.brand, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/subject-requests/{request_id}")
def get_subject_request(request_id: str) -> dict:
    return subject_requests.get(_owner().brand, request_id)


@api("/v1/subject-requests/{request_id}/close", methods=("POST",))
def close_subject_request(request_id: str) -> dict:
    operator = _owner()
    return subject_requests.close(operator.brand, operator.sub, request_id, _body())


@api("/v1/subject-requests/{request_id}/access", methods=("POST",))
def subject_request_access(request_id: str) -> Response:
    # The shopper's data as the brand holds it, as a file the owner sends on; the download is audited.
    operator = _owner()
    _optional_body()  # no fields; a body sent is still checked (size, JSON)
    document, name = subject_requests.access(operator.brand, operator.sub, request_id)
    headers: dict[str, str | list[str]] = {**_JSON, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body=_BODY.encode(document), status_code=200, headers=headers)


@api("/v1/subject-requests/{request_id}/erase", methods=("POST",))
def subject_request_erase(request_id: str) -> dict:
    operator = _owner()
    _optional_body()
    return subject_requests.erase(operator.brand, operator.sub, request_id)


@api("/v1/subject-requests/{request_id}/correct", methods=("POST",))
def subject_request_correct(request_id: str) -> dict:
    operator = _owner()
    return subject_requests.correct(operator.brand, operator.sub, request_id, _body())


# --- pack integrity (docs/integrity.md) ---


@api("/v1/campaigns/{campaign_id}/stats/places")
def campaign_place_stats(campaign_id: str) -> dict:
    return integrity_view.place_stats(_operator().brand, campaign_id, start=_query("from"), end=_query("to"))


@api("/v1/campaigns/{campaign_id}/signals")
def campaign_signals(campaign_id: str) -> dict:
    return integrity_view.campaign_signals(_operator().brand, campaign_id)


@api("/v1/integrity/thresholds")
def integrity_thresholds() -> dict:
    return integrity.get_thresholds(_operator().brand)


@api("/v1/integrity/thresholds", methods=("PUT",))
def change_integrity_thresholds() -> dict:
    operator = _operator()
    require_owner(operator)
    return integrity.put_thresholds(operator.brand, operator.sub, _body())


# An operator confirms a signal by quarantining its code or batch; scans are then refused as for a
# voided one until it is released. Each move is audited with the operator's reason.
@api("/v1/batches/{batch_id}/quarantine", methods=("POST",))
def quarantine_batch(batch_id: str) -> dict:
    operator = _writer()
    return integrity.quarantine_batch(operator.brand, batch_id, operator.sub, _optional_body())


@api("/v1/batches/{batch_id}/release", methods=("POST",))
def release_batch(batch_id: str) -> dict:
    operator = _writer()
    return integrity.release_batch(operator.brand, batch_id, operator.sub, _optional_body())


@api("/v1/codes/{code}/quarantine", methods=("POST",))
def quarantine_code(code: str) -> dict:
    operator = _writer()
    return integrity.quarantine_code(operator.brand, code, operator.sub, _optional_body())


@api("/v1/codes/{code}/release", methods=("POST",))
def release_code(code: str) -> dict:
    operator = _writer()
    return integrity.release_code(operator.brand, code, operator.sub, _optional_body())


# --- end pack integrity ---


@api("/v1/audit")
def audit_trail() -> dict:
    operator = _operator()
    require_owner(operator)
    return audit_view.events(operator.brand, limit=_query("limit"), cursor=_query("cursor"))


@api("/dashboard", auth="public")
def dashboard_page() -> Response:
    # The page holds no data: it asks for a token and calls the API above from the browser.
    return Response(body=dashboard.render_dashboard(), status_code=200, headers=_headers(dashboard.response_headers()))


# In AWS the stream ARN comes from the table (infra/ merges it in); locally
# scripts/stats_worker.py reads DynamoDB Local's stream and calls this same handler.
@app.on_dynamodb_record(
    stream_arn=os.environ.get(
        "CODE_STATES_STREAM_ARN",
        "arn:aws:dynamodb:ap-southeast-1:000000000000:table/qrc-local-code_states/stream/local",
    ),
    batch_size=500,
    starting_position="TRIM_HORIZON",
    maximum_batching_window_in_seconds=1,
)
def stats_aggregator(event: DynamoDBEvent) -> None:
    # Raising makes Lambda deliver the batch again; claims already counted are skipped, and
    # their webhook events (written after the counting) are written once whatever the tries.
    records = event.to_dict()["Records"]
    stream.handle_stream_records(records)
    webhook_events.from_claims(records)


# --- webhooks: owners' endpoints; events from the audit trail's stream; the deliverer and its sweep ---


@api("/v1/webhooks", methods=("POST",), status=201)
def create_webhook() -> dict:
    operator = _owner()
    return webhooks.create_webhook(operator.brand, operator.sub, _body())


@api("/v1/webhooks")
def list_webhooks() -> dict:
    return webhooks.list_webhooks(_owner().brand, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/webhooks/{webhook_id}")
def get_webhook(webhook_id: str) -> dict:
    return webhooks.get_webhook(_owner().brand, webhook_id)


@api("/v1/webhooks/{webhook_id}", methods=("PATCH",))
def change_webhook(webhook_id: str) -> dict:
    operator = _owner()
    return webhooks.change_webhook(operator.brand, webhook_id, operator.sub, _body())


@api("/v1/webhooks/{webhook_id}", methods=("DELETE",))
def delete_webhook(webhook_id: str) -> dict:
    operator = _owner()
    return webhooks.delete_webhook(operator.brand, webhook_id, operator.sub)


@api("/v1/webhooks/{webhook_id}/rotate", methods=("POST",))
def rotate_webhook_secret(webhook_id: str) -> dict:
    operator = _owner()
    return webhooks.rotate_secret(operator.brand, webhook_id, operator.sub, _optional_body())


@api("/v1/webhooks/{webhook_id}/ping", methods=("POST",))
def ping_webhook(webhook_id: str) -> dict:
    operator = _owner()
    _optional_body()  # no fields; a body sent is still checked (size, JSON)
    return webhooks.ping(operator.brand, webhook_id)


@api("/v1/webhooks/{webhook_id}/deliveries")
def webhook_deliveries(webhook_id: str) -> dict:
    operator = _owner()
    return webhooks.deliveries(operator.brand, webhook_id, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/webhooks/{webhook_id}/replay", methods=("POST",), status=202)
def replay_webhook(webhook_id: str) -> dict:
    operator = _owner()
    return webhooks.replay(operator.brand, webhook_id, operator.sub, _body())


# In AWS the stream ARN comes from the audit table (infra/ merges it in, with a filter on the
# actions that make events); locally scripts/webhook_worker.py feeds it.
@app.on_dynamodb_record(
    stream_arn=os.environ.get(
        "AUDIT_STREAM_ARN", "arn:aws:dynamodb:ap-southeast-1:000000000000:table/qrc-local-audit/stream/local"
    ),
    batch_size=100,
    starting_position="TRIM_HORIZON",
    maximum_batching_window_in_seconds=1,
)
def webhook_outbox(event: DynamoDBEvent) -> None:
    # Raising makes Lambda deliver the batch again; each event and delivery is written once.
    webhook_events.from_audit(event.to_dict()["Records"])


@app.on_sqs_message(queue=os.environ.get("WEBHOOK_QUEUE_NAME", "qrc-local-webhooks"), batch_size=1)
def webhook_deliverer(event: SQSEvent) -> None:
    # One delivery a message; a failure raises, SQS gives the message again, and the delivery's
    # lease and status keep a second copy from posting it twice at once.
    for record in event:
        webhook_delivery.handle_message(record.body)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="webhook_sweep")
def webhook_sweep(event: CloudWatchEvent) -> dict:
    # Queues deliveries whose wait was longer than SQS's 15-minute delay, or whose message was lost.
    return webhook_delivery.sweep()


# Every route is declared: what importing the app made lives as long as the container.
coldstart.loaded()
