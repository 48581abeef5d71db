"""Mint a batch, export its print file and download it, against a running stack, with progress."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import requests
from tqdm import tqdm

FORMATS = ("csv", "svg-zip", "png-zip", "pdf")
_SUFFIX = {"csv": ".csv", "svg-zip": ".svg.zip", "png-zip": ".png.zip", "pdf": ".pdf"}


class ApiError(SystemExit):
    """An API refusal, printed as the API worded it."""


def _local_token() -> str:
    from chalicelib.config import Settings
    from chalicelib.services.auth import issue_operator_token

    return issue_operator_token(
        Settings.from_environ({"STAGE": "local"}),
        sub="print_batch@local",
        brand=os.environ.get("QRC_BRAND", "demo-brand"),
        role="owner",
    )


class Api:
    """The few calls this script makes, with the API's own error messages on failure."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.session.request(method, self.base_url + path, json=body, timeout=30)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                detail = f"{error['code']}: {error['message']}"
            except (ValueError, KeyError, TypeError):
                detail = response.text[:200]
            raise ApiError(f"print_batch: {method} {path} answered {response.status_code} ({detail})")
        return response.json()


def _wait_for_export(api: Api, export: dict, poll_seconds: float) -> dict:
    with tqdm(total=100, desc=f"rendering {export['format']}", unit="%", bar_format="{l_bar}{bar}| {n:.0f}%") as bar:
        while export["status"] not in ("done", "failed"):
            time.sleep(poll_seconds)
            export = api.call("GET", f"/v1/exports/{export['export_id']}")
            bar.update(round(export["progress"] * 100) - bar.n)
        bar.update(100 - bar.n if export["status"] == "done" else 0)
    if export["status"] == "failed":
        raise ApiError(f"print_batch: export {export['export_id']} failed: {export.get('error') or 'no detail'}")
    return export


def _download(url: str, path: Path) -> None:
    with requests.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        total = int(response.headers.get("Content-Length") or 0) or None
        with (
            open(path, "wb") as out,
            tqdm(total=total, desc=f"downloading {path.name}", unit="B", unit_scale=True, unit_divisor=1024) as bar,
        ):
            for chunk in response.iter_content(chunk_size=1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", default=os.environ.get("QRC_API", "http://127.0.0.1:8000"), help="API base URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("QRC_TOKEN"),
        help="operator token (default: $QRC_TOKEN; on the local stack a demo-brand owner token)",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--campaign", help="mint a new batch in this campaign")
    target.add_argument("--batch", help="export an existing batch instead of minting")
    parser.add_argument("--sku", help="SKU of the new batch")
    parser.add_argument("--quantity", type=int, help="codes in the new batch (1..10,000,000)")
    parser.add_argument("--label", help="free text for the printer run")
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--out", type=Path, help="file to write (default: <batch_id><suffix> here)")
    parser.add_argument("--activate", action="store_true", help="activate the batch after the download")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between progress checks")
    args = parser.parse_args(argv)
    if args.campaign and (not args.sku or args.quantity is None):
        parser.error("--campaign needs --sku and --quantity")

    api = Api(args.api, args.token or _local_token())
    if args.campaign:
        body = {"sku": args.sku, "quantity": args.quantity, **({"label": args.label} if args.label else {})}
        batch = api.call("POST", f"/v1/campaigns/{args.campaign}/batches", body)
        print(
            f"minted {batch['batch_id']} (batch number {batch['batch_number']}, {batch['quantity']:,} codes, {batch['status']})"
        )
    else:
        batch = api.call("GET", f"/v1/batches/{args.batch}")
    export = api.call("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": args.format})
    export = _wait_for_export(api, export, args.poll)
    out = args.out or Path(f"{batch['batch_id']}{_SUFFIX[args.format]}")
    _download(export["download_url"], out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    if args.activate:
        batch = api.call("POST", f"/v1/batches/{batch['batch_id']}/status", {"status": "active"})
        print(f"{batch['batch_id']} is now {batch['status']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
