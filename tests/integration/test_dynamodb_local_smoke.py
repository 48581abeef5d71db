"""DynamoDB Local is up, behaves like DynamoDB, and listens on 127.0.0.1 only."""

from __future__ import annotations

import errno
import ipaddress
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters import models


def _client(endpoint: str):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")


def _port(endpoint: str) -> int:
    port = urlsplit(endpoint).port
    assert port is not None
    return port


def test_models_are_bound_to_this_modules_tables(ddb_settings):
    for model in models.ALL_MODELS:
        assert model.Meta.host == ddb_settings.dynamodb_endpoint
        assert model.Meta.table_name.startswith(ddb_settings.table_prefix + "-")
        assert model.exists()


def test_put_get_and_a_condition_like_dynamodb(ddb_local):
    client = _client(ddb_local)
    table = f"smoke-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        item = {"pk": {"S": "code-1"}, "owner": {"S": "alice"}}
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        # A second claim of the same key must be refused by the engine, and say whose it is.
        with pytest.raises(ClientError) as refused:
            client.put_item(
                TableName=table,
                Item={"pk": {"S": "code-1"}, "owner": {"S": "bob"}},
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
        assert refused.value.response["Item"]["owner"] == {"S": "alice"}
        got = client.get_item(TableName=table, Key={"pk": {"S": "code-1"}}, ConsistentRead=True)
        assert got["Item"] == item
    finally:
        client.delete_table(TableName=table)


def _non_loopback_ipv4() -> str | None:
    candidates: set[str] = set()
    # Connecting a UDP socket sends nothing; it only asks the kernel for the source
    # address of the default route.
    for probe in ("192.0.2.1", "10.255.255.255"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect((probe, 9))
                candidates.add(sock.getsockname()[0])
            except OSError:
                pass
    try:
        candidates.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    except OSError:
        pass
    for address in sorted(candidates):
        ip = ipaddress.ip_address(address)
        if not ip.is_loopback and not ip.is_unspecified:
            return address
    return None


def test_not_reachable_on_a_non_loopback_address(ddb_local):
    port = _port(ddb_local)
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    address = _non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        code = sock.connect_ex((address, port))
    assert code == errno.ECONNREFUSED, f"{address}:{port} answered (connect_ex={code}): not loopback-only"


def _listeners(port: int) -> list[str]:
    """Local addresses (hex, as the kernel writes them) of sockets listening on `port`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.append(address)
    return found


def test_the_listening_socket_is_bound_to_127_0_0_1(ddb_local):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system")
    listeners = _listeners(_port(ddb_local))
    assert listeners, "nothing listens on the endpoint's port"
    # 127.0.0.1 in /proc/net/tcp is 0100007F; in tcp6, as the IPv4-mapped ::ffff:127.0.0.1.
    loopback = {"0100007F", "0000000000000000FFFF00000100007F"}
    assert set(listeners) <= loopback, listeners
