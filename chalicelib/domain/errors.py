"""Domain exceptions; the entrypoint maps each to one HTTP answer."""

from __future__ import annotations

__all__ = [
    "DomainError",
    "InvalidInput",
    "InvalidFile",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "InvalidTransition",
    "PayloadTooLarge",
    "CodeInvalid",
    "LimitReached",
    "AlreadyClaimed",
    "CodeNotActive",
    "CampaignNotRunning",
    "ServiceBusy",
    "SmsPaused",
]


class DomainError(Exception):
    """Base of every error a client may see; `code` is the stable snake_case name."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(DomainError):
    """The request is malformed; `field` names the part at fault."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, field=field)
        if code:
            self.code = code


class InvalidFile(InvalidInput):
    """An uploaded file with bad lines: each one named by its number, nothing of the file written."""

    code = "invalid_file"

    def __init__(self, message: str, lines: list[dict], *, field: str = "body") -> None:
        super().__init__(message, field=field)
        self.lines = lines

    def to_dict(self) -> dict:
        return {**super().to_dict(), "lines": self.lines}


class PayloadTooLarge(InvalidInput):
    """The body is over the size limit; refused before it is parsed."""

    code = "body_too_large"


class Unauthorized(DomainError):
    """Credentials missing or not valid; one generic message so nothing leaks."""

    code = "unauthorized"

    def __init__(self, message: str = "Missing or invalid credentials.") -> None:
        super().__init__(message)


class Forbidden(DomainError):
    """Credentials valid but the role may not do this."""

    code = "forbidden"


class NotFound(DomainError):
    """No such resource for this brand (another brand's ids answer the same)."""

    code = "not_found"


class Conflict(DomainError):
    """The resource changed under the request, or already exists."""

    code = "conflict"


class Undrawable(Conflict):
    """A draw whose frozen entries cannot give the winners asked for (none, or too few)."""

    code = "undrawable"


class InvalidTransition(Conflict):
    """A status change the lifecycle does not allow."""

    code = "invalid_transition"


class CodeInvalid(NotFound):
    """A code that is unknown, malformed, mistyped, forged or voided.

    One message for every reason, so a caller guessing codes learns nothing (no oracle).
    """

    code = "code_invalid"

    def __init__(self, message: str = "This code is not valid.") -> None:
        super().__init__(message)


class LimitReached(DomainError):
    """A cap or a rate limit refused the request; `retry_after` seconds when known.

    `kind` says which: "rate" (a window or a lockout: waiting helps) or "cap" (a
    participant, daily or budget cap of a campaign).
    """

    code = "limit_reached"

    def __init__(
        self, message: str, *, field: str | None = None, retry_after: int | None = None, kind: str = "rate"
    ) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after
        self.kind = kind


class AlreadyClaimed(Conflict):
    """Another shopper has claimed this code."""

    code = "code_already_claimed"

    def __init__(self, message: str = "This code has already been claimed.") -> None:
        super().__init__(message)


class CodeNotActive(Forbidden):
    """The code is genuine but its batch has not shipped yet."""

    code = "code_not_active"

    def __init__(self, message: str = "This code is not active yet; try again once the product is on sale.") -> None:
        super().__init__(message)


class CampaignNotRunning(DomainError):
    """The campaign is not active, or the scan is outside its window."""

    code = "campaign_not_running"


class ServiceBusy(DomainError):
    """Contention outlasted our retries; nothing was written, the client may retry."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SmsPaused(ServiceBusy):
    """Sign-in codes are paused: an SMS budget (total, a country's, a number range's) is spent.

    The same answer for every number it covers, so nobody learns anything about one.
    """

    code = "sms_unavailable"
