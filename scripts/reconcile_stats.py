"""Recompute a campaign's statistics counters from its claim records and report any difference.

Exit status: 0 when the counters equal the recount, 1 when they differ (after --fix:
when the fix could not make them equal), 2 on bad usage. Reads every claim record of
the campaign (a parallel scan of code_states): run it as an audit, not on a schedule of
minutes. In the local stage it reads the dev stack's DynamoDB Local (127.0.0.1:8001, or
DDB_PORT) unless DYNAMODB_ENDPOINT says otherwise; for an AWS stage set STAGE and
TABLE_PREFIX (e.g. STAGE=prod TABLE_PREFIX=qrc-prod) and use your AWS credentials.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--campaign", required=True, help="the campaign id (cmp_...)")
    parser.add_argument(
        "--count-pending",
        action="store_true",
        help="count claims the stream has not delivered yet (exactly once, as the aggregator would)",
    )
    parser.add_argument(
        "--fix",
        action="store_true",
        help="add the differences to the counters so they equal the recount (run with the stream caught up)",
    )
    args = parser.parse_args(argv)
    if os.environ.get("STAGE", "local") == "local" and not os.environ.get("DYNAMODB_ENDPOINT"):
        # The dev stack's DynamoDB Local (scripts/dev.sh), as every local script assumes.
        from scripts.dynamodb_local import local_aws_env

        os.environ["DYNAMODB_ENDPOINT"] = f"http://127.0.0.1:{os.environ.get('DDB_PORT', '8001')}"
        for name, value in local_aws_env(os.environ.get("AWS_REGION", "us-east-1")).items():
            os.environ.setdefault(name, value)

    from chalicelib.services import reconcile  # the models bind to the environment's tables on import

    report = reconcile.reconcile(args.campaign, count_pending=args.count_pending, fix=args.fix)
    print(
        f"campaign {report.campaign_id}: {report.claims} claim records, {report.pending} not yet counted"
        + (" (the stream is behind, or --count-pending counts them)" if report.pending else "")
    )
    if report.clean:
        if not report.claims:
            print("no claim records and no counters: check the campaign id (and STAGE/TABLE_PREFIX)")
        print("counters equal the recount from claim records: no difference")
        return 0
    print(f"{len(report.differences)} counters differ (item, counter, recount, stored):")
    for item, name, want, have in report.differences:
        print(f"  {item:<24} {name:<32} {want:>10} {have:>10}")
    if args.fix:
        after = reconcile.reconcile(args.campaign)
        print(
            "fixed: counters now equal the recount"
            if after.clean
            else f"still {len(after.differences)} differences (claims arrived meanwhile?): run again"
        )
        return 0 if after.clean else 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
