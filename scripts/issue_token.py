"""Print an operator token for the local stage: TOKEN=$(.venv/bin/python scripts/issue_token.py)."""

from __future__ import annotations

import argparse
import os
import sys

ROLES = ("owner", "manager", "viewer")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, refuse outside the local stage, print one token."""
    parser = argparse.ArgumentParser(description="Print an operator token signed with the local secret.")
    parser.add_argument("--brand", default="demo-brand", help="brand the operator acts for (default: demo-brand)")
    parser.add_argument("--role", default="owner", choices=ROLES, help="default: owner")
    parser.add_argument("--sub", default="dev@demo-brand.local", help="operator id (default: dev@demo-brand.local)")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds (default: 28800)")
    args = parser.parse_args(argv)
    if args.ttl <= 0:
        parser.error("--ttl must be a positive number of seconds")

    from chalicelib.config import Settings
    from chalicelib.services.auth import issue_operator_token

    # A local tool: with no STAGE it means the local stage (the app itself never assumes that).
    stage = os.environ.get("STAGE", "local")
    if stage != "local":
        # Real stages take tokens from the identity provider; a locally signed one
        # would be useless there, or, with a real secret in the environment, dangerous.
        print(
            f"issue_token.py issues tokens for the local stage only (STAGE={stage}); "
            "use the identity provider for other stages",
            file=sys.stderr,
        )
        return 2
    try:
        settings = Settings.from_environ({**os.environ, "STAGE": stage})
        # The API refuses tokens signed with a weak key; do not hand one out.
        settings.check_jwt()
    except (ValueError, RuntimeError) as exc:
        print(f"issue_token.py: {exc}", file=sys.stderr)
        return 2
    if args.ttl > settings.operator_token_max_ttl_seconds:
        # The API refuses a token that lives longer than this, whatever its signature.
        print(
            f"issue_token.py: --ttl may be at most {settings.operator_token_max_ttl_seconds} seconds "
            "(OPERATOR_TOKEN_MAX_TTL_SECONDS)",
            file=sys.stderr,
        )
        return 2
    print(issue_operator_token(settings, sub=args.sub, brand=args.brand, role=args.role, ttl_seconds=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
