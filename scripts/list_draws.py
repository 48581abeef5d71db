"""Put every draw scheduled before the campaigns' draw lists existed on its campaign's list, once.

`GET /v1/me/draws` finds a campaign's draws on its list (docs/draws.md, "Draws nobody can
steer"); a draw scheduled before the lists is on none until this runs. Safe to run again: a
draw already listed is left as it is. Scans the draws table once. In the local stage it reads
the dev stack's DynamoDB Local (127.0.0.1:8001, or DDB_PORT) unless DYNAMODB_ENDPOINT says
otherwise; for an AWS stage set STAGE and TABLE_PREFIX (e.g. STAGE=prod TABLE_PREFIX=qrc-prod)
and use your AWS credentials.
"""

from __future__ import annotations

import os


def main() -> int:
    if os.environ.get("STAGE", "local") == "local" and not os.environ.get("DYNAMODB_ENDPOINT"):
        from scripts.dynamodb_local import local_aws_env

        os.environ["DYNAMODB_ENDPOINT"] = f"http://127.0.0.1:{os.environ.get('DDB_PORT', '8001')}"
        for name, value in local_aws_env(os.environ.get("AWS_REGION", "us-east-1")).items():
            os.environ.setdefault(name, value)

    from chalicelib.adapters import draw_store  # the models bind to the environment's tables on import

    print(f"{draw_store.list_every_draw()} draws added to their campaigns' lists")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
