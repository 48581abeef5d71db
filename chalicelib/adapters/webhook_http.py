"""The one HTTP POST to a brand's webhook endpoint: the host resolved and checked, then that very address connected to."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.domain.webhooks import refused_address

__all__ = ["Answer", "post"]

# The resolver and the connector, named so a test can stand in for DNS without touching the socket
# module every other client shares.
_resolve = socket.getaddrinfo
_connect = socket.create_connection


@dataclass(frozen=True)
class Answer:
    """What one attempt got: the HTTP status (None when none came), why not, and how long it took."""

    status: int | None
    error: str | None
    ms: int


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to an address already resolved and checked, with the certificate checked against the host
    name (SNI): connecting by name again would resolve it again, and a second answer could point
    somewhere the check never saw (DNS rebinding)."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = _connect((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    """Plain HTTP to a checked address (the local stage's receivers on 127.0.0.1)."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect((self._address, self.port), self.timeout)


def _address(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to: every address the name resolves to must be public (unless allowed)."""
    found = _resolve(host, port, type=socket.SOCK_STREAM)
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise OSError(f"{host} does not resolve")
    refused = [address for address in addresses if refused_address(address)]
    if refused and not allow_private:
        raise PermissionError(f"{host} resolves to a private, loopback or link-local address")
    return addresses[0]


def post(url: str, headers: dict[str, str], body: bytes, *, timeout: float, allow_private: bool) -> Answer:
    """POST `body` to `url`; never raises for the receiver's sake (no answer, a refused address, a
    timeout are all an Answer without a status). Redirects are not followed."""
    started = time.perf_counter()
    connection: http.client.HTTPConnection | None = None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _address(host, port, allow_private=allow_private)
        kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        connection = kind(host, address, port, timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        # The status is all that counts: the body is never read, so a receiver that drips one out
        # cannot hold the sender past its timeout (the connection is closed below).
        return Answer(connection.getresponse().status, None, _ms(started))
    except PermissionError as exc:
        return Answer(None, f"refused: {exc}", _ms(started))
    except TimeoutError:
        return Answer(None, f"no answer within {timeout:.0f} s", _ms(started))
    except (OSError, http.client.HTTPException, ssl.SSLError, ValueError) as exc:  # ValueError: a bad URL
        return Answer(None, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
    finally:
        if connection is not None:
            connection.close()


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
