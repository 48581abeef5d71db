#!/usr/bin/env python3
"""Check a lucky draw from its published facts alone: python3 scripts/verify_draw.py --draw draw.json --csv entries.csv --commitment HEX

Standard library only, and written from docs/draws.md rather than from the project's code,
so a regulator can run it without installing anything and it cross-checks the service's own
implementation (chalicelib/domain/draws.py). It checks that

0. the draw was made with qrc-draw-v1, the one algorithm this script implements;
1. SHA-256 of the seed is the commitment published when the draw was scheduled, and the draw
   file carries that same commitment;
2. SHA-256 of the snapshot file is the hash published before the winners were drawn, and
   the file is a well-formed snapshot (header, `id,entries` lines sorted by id, no repeats);
3. the winners recomputed by qrc-draw-v1 from the snapshot, the seed and the beacon are the
   published winners, rank by rank;
4. the alternates (the stream's next picks after the winners, under the same rule, as many as
   asked for or as the snapshot has left) are the published alternates, rank by rank.

It prints MATCH (winners and alternates both match), or DIFFERENCE and the first thing that
differs (naming the winner or the alternate), or NOT COMPARED when it was given no published
winners to compare with; then which commitment and beacon it used and
where they came from. Exit status: 0 MATCH, 1 DIFFERENCE, 2 facts missing, 3 NOT COMPARED
(the winners were recomputed but there was nothing to hold them against: no check).

Inputs: `--draw` is the draw as GET /v1/draws/{draw_id} answers it (saved as JSON): it gives
the algorithm, commitment, snapshot hash, number of winners and of alternates, one-win rule,
beacon, seed, winners and alternates. `--csv` is the snapshot (GET /v1/draws/{draw_id}/entries.csv, every page joined in
order; several files given in order are joined). `--commitment` is the commitment as it was
published when the draw was scheduled (the scheduling announcement, the results page), kept
apart from the draw file so that whoever could edit the file cannot also change it: a draw
file that carries another is refused; without it, the draw file's own is checked and the
output says that this is the weaker check. `--seed` and `--beacon` override the draw's
(e.g. the seed as announced elsewhere, the beacon as the lottery published it); without a
`--draw`, give `--commitment`, `--snapshot-sha256`, `--winners`, `--expect` (the published
winners' ids, comma-separated), optionally `--alternates` and `--expect-alternates` (the
published alternates' ids) and `--one-win-per-participant`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from typing import Any

VERSION = "qrc-draw-v1"
HEADER = b"participant_id,entries\n"
# docs/draws.md, "The beacon": the white space a beacon loses at either end before it is mixed in.
BEACON_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
MATCH, DIFFERENCE, MISSING, NOT_COMPARED = 0, 1, 2, 3


class Difference(Exception):
    """The first thing that does not match; its text is what is printed."""


def read_snapshot(data: bytes) -> tuple[list[str], list[int]]:
    if not data.startswith(HEADER):
        raise Difference("snapshot: the first line is not `participant_id,entries`")
    lines = data[len(HEADER) :].split(b"\n")
    if lines[-1] != b"":
        raise Difference("snapshot: the file does not end with a line end")
    names: list[str] = []
    counts: list[int] = []
    for number, line in enumerate(lines[:-1], start=2):
        parts = line.split(b",")
        if len(parts) != 2 or not parts[0] or not parts[1].isdigit() or parts[1][:1] == b"0":
            raise Difference(
                f"snapshot line {number}: not `participant_id,entries` with entries a positive whole number"
            )
        name = parts[0].decode("ascii", errors="replace")
        if names and parts[0] <= names[-1].encode("ascii", errors="replace"):
            raise Difference(f"snapshot line {number}: {name} is not after {names[-1]} (ids must be sorted, once each)")
        names.append(name)
        counts.append(int(parts[1]))
    return names, counts


def numbers(seed: bytes, snapshot_hash: str, beacon: str) -> Iterator[int]:
    """The 64-bit numbers of the draw's stream, in order."""
    mixed = beacon.strip(BEACON_SPACE).encode("utf-8")
    key = hmac.new(seed, b"%s\x00%s\x00%s" % (VERSION.encode(), snapshot_hash.encode(), mixed), "sha256")
    k = key.digest()
    counter = 0
    while True:
        block = hmac.new(k, counter.to_bytes(8, "big"), "sha256").digest()
        for offset in (0, 8, 16, 24):
            yield int.from_bytes(block[offset : offset + 8], "big")
        counter += 1


def below(stream, n: int) -> int:
    """Uniform in [0, n): a number at or above the largest multiple of n under 2^64 is skipped."""
    ceiling = (2**64 // n) * n
    for value in stream:
        if value < ceiling:
            return value % n
    raise AssertionError("unreachable")


class SegmentTree:
    """Sums over a power-of-two tree: leaf i holds participant i's remaining entries."""

    def __init__(self, counts: list[int]) -> None:
        size = 1
        while size < len(counts):
            size *= 2
        self.size = size
        self.sums = [0] * (2 * size)
        self.sums[size : size + len(counts)] = counts
        for node in range(size - 1, 0, -1):
            self.sums[node] = self.sums[2 * node] + self.sums[2 * node + 1]

    def total(self) -> int:
        return self.sums[1]

    def locate(self, r: int) -> int:
        """The participant whose interval of the running sum holds r (the first with sum > r)."""
        node = 1
        while node < self.size:
            left = self.sums[2 * node]
            if r < left:
                node = 2 * node
            else:
                r -= left
                node = 2 * node + 1
        return node - self.size

    def take(self, index: int, amount: int) -> None:
        node = index + self.size
        while node:
            self.sums[node] -= amount
            node //= 2


def picks_of(
    names: list[str],
    counts: list[int],
    *,
    seed: bytes,
    snapshot_hash: str,
    beacon: str,
    wanted: int,
    one_win: bool,
    more: int = 0,
) -> tuple[list[str], list[str]]:
    """The winners, then up to `more` alternates: the next picks of the same stream while any is left."""
    stream = numbers(seed, snapshot_hash, beacon)
    tree = SegmentTree(counts)
    chosen: list[str] = []
    alternates: list[str] = []
    for _ in range(wanted + more):
        if tree.total() == 0:
            if len(chosen) < wanted:
                raise Difference(f"the snapshot allows fewer than {wanted} winners")
            break  # no participant (or entry) left: fewer alternates than asked, as the document says
        index = below(stream, tree.total())
        index = tree.locate(index)
        (chosen if len(chosen) < wanted else alternates).append(names[index])
        left = tree.sums[tree.size + index]
        tree.take(index, left if one_win else 1)
    return chosen, alternates


def winners_of(names, counts, *, seed: bytes, snapshot_hash: str, beacon: str, wanted: int, one_win: bool) -> list[str]:
    return picks_of(
        names, counts, seed=seed, snapshot_hash=snapshot_hash, beacon=beacon, wanted=wanted, one_win=one_win
    )[0]


def compare(what: str, mine: list[str], theirs: list[str]) -> None:
    """Difference at the first rank where the recomputed and published lists part (`what`: winner, alternate)."""
    for rank, (ours, published) in enumerate(zip(mine, theirs), start=1):
        if ours != published:
            raise Difference(f"{what} {rank}: recomputed {ours}, published {published}")
    if len(mine) != len(theirs):
        raise Difference(f"{what}s: recomputed {len(mine)}, published {len(theirs)}")


def verify(data: bytes, **facts: Any) -> list[str]:
    """The recomputed winners, or Difference at the first thing that does not match (see verify_all)."""
    return verify_all(data, **facts)[0]


def verify_all(
    data: bytes,
    *,
    seed_hex: str,
    beacon: str,
    commitment: str,
    snapshot_hash: str,
    wanted: int,
    one_win: bool,
    published: list[str] | None,
    entries_total: int | None = None,
    alternates: int = 0,
    published_alternates: list[str] | None = None,
) -> tuple[list[str], list[str]]:
    """The recomputed winners and alternates, or Difference at the first thing that does not match.

    With published winners, the alternates are compared too: those given, or none when none are
    given (a draw that asked for alternates and publishes none does not match).
    """
    try:
        seed = bytes.fromhex(seed_hex)
    except ValueError:
        raise Difference("seed: not hexadecimal") from None
    if len(seed) != 32:
        raise Difference(f"seed: {len(seed)} bytes, a draw seed is 32")
    if hashlib.sha256(seed).hexdigest() != commitment.lower():
        raise Difference(
            f"commitment: SHA-256 of the seed is {hashlib.sha256(seed).hexdigest()}, published {commitment}"
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != snapshot_hash.lower():
        raise Difference(f"snapshot_sha256: the file's SHA-256 is {actual}, published {snapshot_hash}")
    names, counts = read_snapshot(data)
    if entries_total is not None and sum(counts) != entries_total:
        raise Difference(f"entries_total: the file holds {sum(counts)} entries, published {entries_total}")
    if alternates < 0:
        raise Difference(f"alternates: {alternates} asked for, a count is 0 or more")
    chosen, after = picks_of(
        names,
        counts,
        seed=seed,
        snapshot_hash=snapshot_hash.lower(),
        beacon=beacon,
        wanted=wanted,
        one_win=one_win,
        more=alternates,
    )
    if published is not None:
        compare("winner", chosen, published)
        compare("alternate", after, published_alternates or [])
    return chosen, after


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Exit status: 0 MATCH (winners and alternates), 1 DIFFERENCE, 2 facts missing, "
        "3 NOT COMPARED (no published winners given).",
    )
    parser.add_argument("--draw", help="the draw as GET /v1/draws/{draw_id} answers it, saved as JSON")
    parser.add_argument("--csv", nargs="+", required=True, help="the snapshot file(s), in page order")
    parser.add_argument("--seed", help="the revealed seed, 64 hex digits (default: the draw's)")
    parser.add_argument(
        "--beacon", help="the beacon value as published, white space at its ends ignored (default: the draw's)"
    )
    parser.add_argument(
        "--commitment",
        help="the seed commitment as published when the draw was scheduled; the draw file must carry the same "
        "(default: the draw file's own, a weaker check)",
    )
    parser.add_argument("--snapshot-sha256", help="the published snapshot hash (default: the draw's)")
    parser.add_argument("--winners", type=int, help="how many winners (default: the draw's winners_wanted)")
    parser.add_argument(
        "--one-win-per-participant", choices=("true", "false"), help="the draw's rule (default: the draw's)"
    )
    parser.add_argument(
        "--expect", help="the published winners' ids in rank order, comma-separated (default: the draw's)"
    )
    parser.add_argument(
        "--alternates",
        type=int,
        help="how many alternates were asked for (default: the draw's alternates_wanted, or 0)",
    )
    parser.add_argument(
        "--expect-alternates",
        help="the published alternates' ids in rank order, comma-separated (default: the draw's; none if it lists none)",
    )
    return parser.parse_args(argv)


def check_algorithm(draw: dict) -> None:
    """A draw made by another algorithm (or naming none) cannot be checked by this one."""
    named = draw.get("algorithm")
    if named != VERSION:
        said = f"names {json.dumps(named)}" if named is not None else "names no algorithm"
        raise Difference(f"algorithm: the draw file {said}; this script checks {VERSION} only")


def published_commitment(draw: dict, given: str | None) -> tuple[str | None, str]:
    """The commitment to check the seed against, and a line saying where it came from."""
    in_file = draw.get("seed_commitment")
    if given is None:
        return in_file, (
            "from the draw file only. Weaker check: whoever can edit the draw file can change its commitment "
            "with its seed; give --commitment as published when the draw was scheduled"
        )
    given = given.strip()
    if in_file is None:
        return given, "as given with --commitment"
    if in_file.lower() != given.lower():
        raise Difference(f"seed_commitment: the draw file carries {in_file}, published when scheduled {given}")
    return given, "as published when the draw was scheduled (--commitment); the draw file carries the same"


def _published_winners(draw: dict, expect: str | None) -> tuple[list[str] | None, str]:
    if expect is not None:
        return [name for name in expect.split(",") if name], "--expect"
    if draw.get("winners"):
        return [w["participant_id"] for w in draw["winners"]], "the draw file's winners"
    return None, ""


def _published_alternates(draw: dict, expect: str | None) -> tuple[list[str], str]:
    if expect is not None:
        return [name for name in expect.split(",") if name], "--expect-alternates"
    if draw.get("alternates"):
        return [a["participant_id"] for a in draw["alternates"]], "the draw file's alternates"
    return [], "none published"


def _beacon(draw: dict, given: str | None) -> tuple[str, str]:
    if given is not None:
        return given, "--beacon"
    if draw.get("beacon") is not None:
        return draw["beacon"], "the draw file's"
    return "", "none: the draw has no beacon"


def _alternates_note(asked: int, drawn: int) -> list[str]:
    if not asked:
        return []
    short = " (the snapshot had no more participants or entries to pick)" if drawn < asked else ""
    return [f"alternates: {drawn} of the {asked} asked for{short}"]


def _report(result: str, chosen: list[str], after: list[str], notes: list[str]) -> None:
    print(result)
    for rank, name in enumerate(chosen, start=1):
        print(f"  {rank}. {name}")
    if after:
        print("alternates:")
    for rank, name in enumerate(after, start=1):
        print(f"  alternate {rank}. {name}")
    for note in notes:
        print(note)


def _check(args: argparse.Namespace, draw: dict, data: bytes) -> int:
    if args.draw:
        check_algorithm(draw)
    commitment, commitment_source = published_commitment(draw, args.commitment)
    published, winners_source = _published_winners(draw, args.expect)
    published_after, alternates_source = _published_alternates(draw, args.expect_alternates)
    beacon, beacon_source = _beacon(draw, args.beacon)
    rule = args.one_win_per_participant
    facts: dict[str, Any] = {
        "seed_hex": args.seed or draw.get("seed"),
        "beacon": beacon,
        "commitment": commitment,
        "snapshot_hash": args.snapshot_sha256 or draw.get("snapshot_sha256"),
        "wanted": args.winners or draw.get("winners_wanted"),
        "one_win": (rule == "true") if rule else bool(draw.get("one_win_per_participant", True)),
    }
    missing = [name for name, value in facts.items() if value is None]
    if missing:
        print(f"missing: {', '.join(missing)} (give --draw or the options)", file=sys.stderr)
        return MISSING
    # A draw file from before alternates names none: it asked for 0.
    asked = args.alternates if args.alternates is not None else int(draw.get("alternates_wanted") or 0)
    chosen, after = verify_all(
        data,
        published=published,
        entries_total=draw.get("entries_total"),
        alternates=asked,
        published_alternates=published_after,
        **facts,
    )
    notes = _alternates_note(asked, len(after))
    notes += [
        f"commitment checked: {commitment}, {commitment_source}",
        f"beacon: {json.dumps(beacon.strip(BEACON_SPACE), ensure_ascii=False)} ({beacon_source})",
    ]
    if published is None:
        _report(
            "NOT COMPARED: no published winners were given (the draw file lists none and no --expect); "
            "the winners computed are",
            chosen,
            after,
            notes,
        )
        return NOT_COMPARED
    compared = [f"winners compared with: {winners_source}"]
    if asked or published_after:
        compared.append(f"alternates compared with: {alternates_source}")
    _report("MATCH", chosen, after, [*compared, *notes])
    return MATCH


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    draw: dict = {}
    if args.draw:
        with open(args.draw, encoding="utf-8") as handle:
            draw = json.load(handle)
    data = b""
    for path in args.csv:
        with open(path, "rb") as handle:
            data += handle.read()
    try:
        return _check(args, draw, data)
    except Difference as difference:
        print(f"DIFFERENCE {difference}")
        return DIFFERENCE


if __name__ == "__main__":
    sys.exit(main())
