"""The dev stack's API takes a crowd: 200 shoppers' connections at once are all answered, none reset."""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlsplit

from tests.integration.browser import ChaliceLocal

CROWD = 200


def test_two_hundred_connections_at_once_are_all_answered(server: ChaliceLocal):
    server.wait_ready()
    where = urlsplit(server.base)
    ready = threading.Barrier(CROWD)
    answers: list[int | str] = []

    def one_shopper() -> None:
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
        try:
            ready.wait(timeout=60)  # every connection opens at the same moment
            connection.request("GET", "/health")
            answers.append(connection.getresponse().status)
        except OSError as exc:  # a reset or refused connection: what a listen backlog of 5 gives
            answers.append(type(exc).__name__)
        finally:
            connection.close()

    crowd = [threading.Thread(target=one_shopper) for _ in range(CROWD)]
    for thread in crowd:
        thread.start()
    for thread in crowd:
        thread.join(timeout=120)
    assert answers == [200] * CROWD, {str(a): answers.count(a) for a in set(answers)}
