"""`chalice local` with a listen backlog for a crowd: the dev stack's API server (scripts/dev.py starts it).

chalice's local server is Python's HTTPServer, whose listen backlog is 5: when 40 shoppers
scan at once, the kernel's accept queue overflows and connections are reset before the
server's threads can take them. Everything else is chalice's own command line, unchanged.
"""

from __future__ import annotations

import sys

from chalice import local
from chalice.cli import main as chalice_main

BACKLOG = 1024
"""Connections the kernel holds for the server to accept (Linux caps it at net.core.somaxconn, 4096)."""


def main(argv: list[str]) -> int:
    local.ThreadedHTTPServer.request_queue_size = BACKLOG
    sys.argv = ["chalice", *argv]
    return int(chalice_main() or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
