"""Put what closed, and every account signed in, before retention's due-day indexes existed on its due day, once.

The retention job (docs/privacy.md, How long it is kept) finds what is due by its day on an index that the
move starting each clock writes; a gift shipped, a win closed or an account last signed in before that has
no day until this runs. Safe to run again: what is listed is left as it is. Scans the redemptions, wins and
shoppers tables once (the job itself never scans). In the local stage it reads the dev stack's DynamoDB
Local (127.0.0.1:8001, or DDB_PORT) unless DYNAMODB_ENDPOINT says otherwise; for an AWS stage set STAGE
and TABLE_PREFIX (e.g. STAGE=prod TABLE_PREFIX=qrc-prod) and use your AWS credentials.
"""

from __future__ import annotations

import os


def main() -> int:
    if os.environ.get("STAGE", "local") == "local" and not os.environ.get("DYNAMODB_ENDPOINT"):
        from scripts.dynamodb_local import local_aws_env

        os.environ["DYNAMODB_ENDPOINT"] = f"http://127.0.0.1:{os.environ.get('DDB_PORT', '8001')}"
        for name, value in local_aws_env(os.environ.get("AWS_REGION", "us-east-1")).items():
            os.environ.setdefault(name, value)

    from chalicelib.services import retention  # the models bind to the environment's tables on import

    listed = retention.backfill()
    print(", ".join(f"{count} {kind}" for kind, count in listed.items()) + " put on their due days")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
