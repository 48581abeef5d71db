"""qrc-draw-v1: docs/draws.md's worked example, the two implementations held equal, fairness, tampering."""

from __future__ import annotations

import ast
import hashlib
import json
import math
import pathlib
import random
import subprocess
import sys

import pytest

from chalicelib.domain import draws
from scripts import verify_draw

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "draws.md").read_text(encoding="utf-8")
SCRIPT = ROOT / "scripts" / "verify_draw.py"

EXAMPLE_ROWS = [("mbr_ALICE", 3), ("mbr_BINH", 1), ("mbr_CHI", 4), ("mbr_DUNG", 1), ("mbr_EM", 5)]
EXAMPLE_SEED = bytes(range(32))
EXAMPLE_BEACON = "05 11 23 30 38 42"
EXAMPLE = {
    "seed_commitment": "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd",
    "snapshot_sha256": "5808e01543b78660c8858f5699152dfe34b70bbad5d1df4668ac4b889d7cb35f",
    "key": "8335637f59716927b1683237915daf8fde9b5da5311d3061fed4d7040ac41fe8",
    "stream": [6246439767294297712, 6404489330836167076, 11709501052499319933],
    "one_win": ["mbr_DUNG", "mbr_EM", "mbr_CHI"],
    "many_wins": ["mbr_DUNG", "mbr_EM", "mbr_EM"],
    "no_beacon": ["mbr_DUNG", "mbr_EM", "mbr_BINH"],
    # Three alternates asked for after the three winners: the stream's next integers.
    "stream_after": [10080714106103426422, 17121114633978593718, 7364901636497177763],
    "one_win_alternates": ["mbr_ALICE", "mbr_BINH"],  # only two participants were left
    "many_wins_alternates": ["mbr_EM", "mbr_EM", "mbr_CHI"],
    "no_beacon_alternates": ["mbr_ALICE", "mbr_CHI"],
}


def _draw(rows, seed, beacon, winners, one_win):
    data = draws.snapshot_bytes(rows)
    ids, weights = draws.parse_snapshot(data)
    sha = hashlib.sha256(data).hexdigest()
    return draws.draw_winners(
        ids, weights, seed=seed, snapshot_sha256=sha, beacon=beacon, winners=winners, one_win_per_participant=one_win
    )


def test_the_worked_example_of_the_document_is_what_both_implementations_compute():
    data = draws.snapshot_bytes(EXAMPLE_ROWS)
    assert f"Snapshot (the whole file, {len(data)} bytes)" in DOC
    assert "```\n" + data.decode() + "```" in DOC
    sha = hashlib.sha256(data).hexdigest()
    assert sha == EXAMPLE["snapshot_sha256"] and draws.commitment(EXAMPLE_SEED) == EXAMPLE["seed_commitment"]
    key = draws.mixing_key(EXAMPLE_SEED, sha, EXAMPLE_BEACON)
    assert key.hex() == EXAMPLE["key"]
    stream = draws.RandomStream(key)
    assert [stream.next_u64() for _ in range(3)] == EXAMPLE["stream"]
    for name in ("seed_commitment", "snapshot_sha256", "key"):
        assert EXAMPLE[name] in DOC, name
    assert ", ".join(str(u) for u in EXAMPLE["stream"]) in DOC
    assert EXAMPLE_SEED.hex() in DOC and EXAMPLE_BEACON in DOC
    for one_win, beacon, expected in (
        (True, EXAMPLE_BEACON, EXAMPLE["one_win"]),
        (False, EXAMPLE_BEACON, EXAMPLE["many_wins"]),
        (True, None, EXAMPLE["no_beacon"]),
    ):
        assert [w.participant_id for w in _draw(EXAMPLE_ROWS, EXAMPLE_SEED, beacon, 3, one_win)] == expected
        names, counts = verify_draw.read_snapshot(data)
        assert (
            verify_draw.winners_of(
                names, counts, seed=EXAMPLE_SEED, snapshot_hash=sha, beacon=beacon or "", wanted=3, one_win=one_win
            )
            == expected
        )
    assert "**1. mbr_DUNG, 2. mbr_EM, 3. mbr_CHI**" in DOC
    assert "1. mbr_DUNG, 2. mbr_EM, 3. mbr_EM" in DOC and "1. mbr_DUNG, 2. mbr_EM,\n3. mbr_BINH" in DOC


def _published(data: bytes, seed: bytes, beacon: str | None) -> dict:
    """What a drawn draw publishes for the verify script: the seed, the beacon, the commitment, the snapshot hash."""
    return {
        "seed_hex": seed.hex(),
        "beacon": beacon or "",
        "commitment": draws.commitment(seed),
        "snapshot_hash": hashlib.sha256(data).hexdigest(),
    }


def _ranked(rows, seed, beacon, winners, alternates, one_win) -> draws.Drawn:
    data = draws.snapshot_bytes(rows)
    ids, weights = draws.parse_snapshot(data)
    key = draws.mixing_key(seed, hashlib.sha256(data).hexdigest(), beacon)
    return draws.draw_ranked(ids, weights, key=key, winners=winners, alternates=alternates, one_win=one_win)


def test_the_worked_example_of_alternates_in_the_document_is_what_both_implementations_compute():
    data = draws.snapshot_bytes(EXAMPLE_ROWS)
    sha = hashlib.sha256(data).hexdigest()
    stream = draws.RandomStream(draws.mixing_key(EXAMPLE_SEED, sha, EXAMPLE_BEACON))
    assert [stream.next_u64() for _ in range(6)][3:] == EXAMPLE["stream_after"]
    for u in EXAMPLE["stream_after"]:
        assert str(u) in DOC
    names, counts = verify_draw.read_snapshot(data)
    for one_win, beacon, winners, alternates in (
        (True, EXAMPLE_BEACON, EXAMPLE["one_win"], EXAMPLE["one_win_alternates"]),
        (False, EXAMPLE_BEACON, EXAMPLE["many_wins"], EXAMPLE["many_wins_alternates"]),
        (True, None, EXAMPLE["no_beacon"], EXAMPLE["no_beacon_alternates"]),
    ):
        drawn = _ranked(EXAMPLE_ROWS, EXAMPLE_SEED, beacon, 3, 3, one_win)
        assert [w.participant_id for w in drawn.winners] == winners
        assert [(a.rank, a.participant_id) for a in drawn.alternates] == list(enumerate(alternates, start=1))
        theirs = verify_draw.picks_of(
            names, counts, seed=EXAMPLE_SEED, snapshot_hash=sha, beacon=beacon or "", wanted=3, one_win=one_win, more=3
        )
        assert theirs == (winners, alternates)
    text = " ".join(DOC.split())  # the prose as read, whatever its line breaks
    assert "Alternates **1. mbr_ALICE, 2. mbr_BINH** (2 of the 3 asked for)" in text
    assert "alternates 1. mbr_EM, 2. mbr_EM, 3. mbr_CHI" in text and "1. mbr_ALICE, 2. mbr_CHI" in text
    # The table's rows, as the picks go on after the winners (one win per participant: W 4 then 1).
    u4, u5, _ = EXAMPLE["stream_after"]
    assert f"| 4 | 1 | 4 | {u4} | {2**64} | {u4 % 4} | mbr_ALICE |" in DOC
    assert f"| 5 | 2 | 1 | {u5} | {2**64} | {u5 % 1} | mbr_BINH |" in DOC
    # Without one win: W 11, 10, 9 and the x each gives.
    xs = ", ".join(str(u % w) for u, w in zip(EXAMPLE["stream_after"], (11, 10, 9)))
    assert f"`W` = 11, 10, 9 and `x` = {xs})" in text


def test_alternates_are_the_next_picks_of_the_same_draw_and_change_no_winner():
    rng = random.Random(20261207)
    for case in range(300):
        rows = _random_snapshot(rng, rng.randint(1, 120))
        one_win = rng.random() < 0.6
        allowed = len(rows) if one_win else sum(e for _, e in rows)
        winners = rng.randint(1, min(allowed, 20))
        alternates = rng.randint(0, 30)
        seed = rng.randbytes(32)
        beacon = rng.choice([None, "01 02 03 04 05 06"])
        drawn = _ranked(rows, seed, beacon, winners, alternates, one_win)
        # The winners are those of the same draw without alternates (every draw before them keeps its winners)...
        assert drawn.winners == _draw(rows, seed, beacon, winners, one_win), case
        # ...and the alternates are the picks after them: a draw of winners + alternates, ranked on.
        expected_count = min(alternates, allowed - winners)
        assert len(drawn.alternates) == expected_count
        longer = _draw(rows, seed, beacon, winners + expected_count, one_win)
        assert [a.participant_id for a in drawn.alternates] == [w.participant_id for w in longer[winners:]]
        assert [a.rank for a in drawn.alternates] == list(range(1, expected_count + 1))
        if one_win:  # one win per participant holds across winners and alternates
            picked = [p.participant_id for p in (*drawn.winners, *drawn.alternates)]
            assert len(set(picked)) == len(picked)
        data = draws.snapshot_bytes(rows)
        theirs = verify_draw.verify_all(
            data,
            **_published(data, seed, beacon),
            wanted=winners,
            one_win=one_win,
            published=[w.participant_id for w in drawn.winners],
            alternates=alternates,
            published_alternates=[a.participant_id for a in drawn.alternates],
        )
        assert theirs == ([w.participant_id for w in drawn.winners], [a.participant_id for a in drawn.alternates])


def test_a_draw_refuses_a_negative_number_of_alternates():
    with pytest.raises(ValueError, match="alternates"):
        _ranked(EXAMPLE_ROWS, EXAMPLE_SEED, None, 1, -1, True)


def _random_snapshot(rng: random.Random, size: int) -> list[tuple[str, int]]:
    names = sorted({f"mbr_{rng.getrandbits(64):016X}" for _ in range(size)})
    return [(name, rng.choice((1, 1, 1, 2, 3, 5, 8, 40, 1000))) for name in names]


def test_the_verify_script_is_an_independent_implementation_that_agrees_everywhere():
    rng = random.Random(20261202)
    for case in range(400):
        rows = _random_snapshot(rng, rng.randint(1, 300 if case % 10 else 3000))
        one_win = rng.random() < 0.6
        allowed = len(rows) if one_win else sum(e for _, e in rows)
        wanted = rng.randint(1, min(allowed, 50))
        seed = rng.randbytes(32)
        beacon = rng.choice([None, "", "01 02 03 04 05 06", "Xổ số 12/2026: 7·13·21"])
        data = draws.snapshot_bytes(rows)
        ours = [w.participant_id for w in _draw(rows, seed, beacon, wanted, one_win)]
        theirs = verify_draw.verify(
            data,
            **_published(data, seed, beacon),
            wanted=wanted,
            one_win=one_win,
            published=ours,
        )
        assert theirs == ours, case
        if one_win:
            assert len(set(ours)) == len(ours)


def test_the_fenwick_tree_finds_what_a_linear_scan_finds_through_removals():
    rng = random.Random(7)
    weights = [rng.choice((0, 1, 2, 7, 100)) for _ in range(1000)]
    tree = draws.Fenwick(weights)
    live = list(weights)
    for _ in range(3000):
        total = sum(live)
        if not total:
            break
        r = rng.randrange(total)
        running, expected = 0, None
        for i, w in enumerate(live):
            running += w
            if running > r:
                expected = i
                break
        assert tree.find(r) == expected
        taken = rng.randint(1, live[expected])
        live[expected] -= taken
        tree.add(expected, -taken)
    with pytest.raises(ValueError):
        tree.find(sum(live))


def test_rejection_sampling_skips_the_top_of_the_range():
    class Fixed(draws.RandomStream):
        def __init__(self, values):
            super().__init__(b"k")
            self.values = iter(values)

        def next_u64(self):
            return next(self.values)

    n = 3  # 2^64 mod 3 = 1: the one value 2^64 - 1 would favour 0
    assert Fixed([2**64 - 1, 2**64 - 2]).below(n) == (2**64 - 2) % n
    assert Fixed([5]).below(n) == 2


def _chi_square_p(statistic: float, degrees: int) -> float:
    """P(X >= statistic) for a chi-square with an even number of degrees of freedom (closed form)."""
    assert degrees % 2 == 0
    half = statistic / 2
    return math.exp(-half) * sum(half**i / math.factorial(i) for i in range(degrees // 2))


def test_each_entry_wins_with_a_chance_proportional_to_its_weight_and_one_win_holds():
    weights = [1, 2, 3, 4, 5, 10, 25]  # 7 participants: 6 degrees of freedom
    rows = [(f"mbr_P{i}", w) for i, w in enumerate(weights)]
    data = draws.snapshot_bytes(rows)
    ids, parsed = draws.parse_snapshot(data)
    sha = hashlib.sha256(data).hexdigest()
    runs, first = 20_000, [0] * len(weights)
    for run in range(runs):
        seed = hashlib.sha256(b"fairness %d" % run).digest()
        picked = draws.draw_winners(
            ids, parsed, seed=seed, snapshot_sha256=sha, beacon=None, winners=3, one_win_per_participant=True
        )
        assert len({w.participant_id for w in picked}) == 3  # one win per participant
        first[ids.index(picked[0].participant_id)] += 1
    total = sum(weights)
    statistic = sum((seen - runs * w / total) ** 2 / (runs * w / total) for seen, w in zip(first, weights))
    p = _chi_square_p(statistic, len(weights) - 1)
    assert p > 0.001, (first, statistic, p)
    # The test itself can tell: a draw that ignored the weights fails it.
    flat = [runs // len(weights)] * len(weights)
    flat_statistic = sum((seen - runs * w / total) ** 2 / (runs * w / total) for seen, w in zip(flat, weights))
    assert _chi_square_p(flat_statistic, len(weights) - 1) < 1e-9


def test_without_one_win_each_entry_wins_at_most_once():
    rows = [("mbr_A", 2), ("mbr_B", 1)]
    for run in range(200):
        picked = _draw(rows, hashlib.sha256(b"%d" % run).digest(), None, 3, False)
        assert sorted(w.participant_id for w in picked) == ["mbr_A", "mbr_A", "mbr_B"]


def test_a_snapshot_must_be_sorted_plain_and_positive():
    with pytest.raises(ValueError):
        draws.snapshot_bytes([("mbr_B", 1), ("mbr_A", 1)])
    with pytest.raises(ValueError):
        draws.snapshot_bytes([("=HYPERLINK(1)", 1)])
    with pytest.raises(ValueError):
        draws.snapshot_bytes([("mbr_A", 0)])
    for bad in (b"id,entries\nmbr_A,1\n", draws.CSV_HEADER + b"mbr_A,01\n", draws.CSV_HEADER + b"mbr_A,1"):
        with pytest.raises(ValueError):
            draws.parse_snapshot(bad)


def _facts(tmp_path, rows, seed, beacon, wanted, one_win, alternates=None) -> tuple[pathlib.Path, pathlib.Path, dict]:
    """A drawn draw's file as the API answers it (with `alternates` asked for, when not None) and its snapshot."""
    data = draws.snapshot_bytes(rows)
    sha = hashlib.sha256(data).hexdigest()
    drawn = _ranked(rows, seed, beacon, wanted, alternates or 0, one_win)
    winners = drawn.winners
    draw = {
        "algorithm": "qrc-draw-v1",
        "seed_commitment": draws.commitment(seed),
        "snapshot_sha256": sha,
        "seed": seed.hex(),
        "beacon": beacon,
        "winners_wanted": wanted,
        "one_win_per_participant": one_win,
        "entries_total": sum(e for _, e in rows),
        "winners": [{"rank": w.rank, "participant_id": w.participant_id, "entries": w.entries} for w in winners],
    }
    if alternates is not None:
        draw["alternates_wanted"] = alternates
        draw["alternates"] = [{"rank": a.rank, "participant_id": a.participant_id} for a in drawn.alternates]
    (tmp_path / "entries.csv").write_bytes(data)
    (tmp_path / "draw.json").write_text(json.dumps(draw))
    return tmp_path / "draw.json", tmp_path / "entries.csv", draw


def _run(*args) -> subprocess.CompletedProcess:
    # The script as a regulator runs it: any python3, isolated from the project and its packages.
    return subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd="/"
    )


def test_the_verify_script_prints_match_and_catches_one_tampered_entry(tmp_path):
    rows = _random_snapshot(random.Random(3), 500)
    seed = bytes.fromhex("ab" * 32)
    draw_file, csv_file, draw = _facts(tmp_path, rows, seed, EXAMPLE_BEACON, 5, True)
    ok = _run("--draw", draw_file, "--csv", csv_file)
    assert ok.returncode == 0 and ok.stdout.startswith("MATCH"), ok.stdout + ok.stderr
    # One entry changed in the file: its hash no longer matches what was published.
    text = csv_file.read_text()
    name, count = rows[17]
    tampered = tmp_path / "tampered.csv"
    tampered.write_text(text.replace(f"{name},{count}\n", f"{name},{count + 1}\n"))
    bad = _run("--draw", draw_file, "--csv", tampered)
    assert bad.returncode == 1 and bad.stdout.startswith("DIFFERENCE snapshot_sha256"), bad.stdout
    # Even with a hash published for the tampered file, the total published gives it away.
    forged = {**draw, "snapshot_sha256": hashlib.sha256(tampered.read_bytes()).hexdigest()}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    bad = _run("--draw", tmp_path / "forged.json", "--csv", tampered)
    assert bad.returncode == 1 and bad.stdout.startswith("DIFFERENCE entries_total"), bad.stdout
    # A seed that is not the committed one, a beacon other than the published one, a winner swapped.
    assert _run("--draw", draw_file, "--csv", csv_file, "--seed", "cd" * 32).stdout.startswith("DIFFERENCE commitment")
    other = _run("--draw", draw_file, "--csv", csv_file, "--beacon", "05 11 23 30 38 43")
    assert other.returncode == 1 and other.stdout.startswith("DIFFERENCE winner"), other.stdout
    swapped = {**draw, "winners": list(reversed(draw["winners"]))}
    (tmp_path / "swapped.json").write_text(json.dumps(swapped))
    assert _run("--draw", tmp_path / "swapped.json", "--csv", csv_file).stdout.startswith("DIFFERENCE winner 1")


def test_the_verify_script_says_match_only_when_winners_and_alternates_both_match(tmp_path):
    rows = _random_snapshot(random.Random(11), 300)
    seed = bytes.fromhex("7e" * 32)
    draw_file, csv_file, draw = _facts(tmp_path, rows, seed, EXAMPLE_BEACON, 4, True, alternates=3)
    ok = _run("--draw", draw_file, "--csv", csv_file)
    assert ok.returncode == 0 and ok.stdout.startswith("MATCH"), ok.stdout + ok.stderr
    names = [a["participant_id"] for a in draw["alternates"]]
    assert [f"  alternate {r}. {n}" for r, n in enumerate(names, start=1)] == [
        line for line in ok.stdout.splitlines() if line.startswith("  alternate ")
    ]
    assert "alternates compared with: the draw file's alternates" in ok.stdout
    # An alternate swapped, one left out, the order changed, or none published: not a match, naming the alternate.
    first, *rest = draw["alternates"]
    for name, alternates, said in (
        ("swapped.json", [{**first, "participant_id": draw["winners"][0]["participant_id"]}, *rest], "alternate 1:"),
        ("short.json", [first, *rest][:-1], "alternates: recomputed 3, published 2"),
        ("order.json", list(reversed(draw["alternates"])), "alternate 1:"),
        ("none.json", [], "alternates: recomputed 3, published 0"),
    ):
        bad = _run("--draw", _write(tmp_path, name, {**draw, "alternates": alternates}), "--csv", csv_file)
        assert bad.returncode == 1 and bad.stdout.startswith(f"DIFFERENCE {said}"), (name, bad.stdout)
        assert "MATCH" not in bad.stdout
    # A winner changed still names the winner first, whatever the alternates.
    swapped = {**draw, "winners": list(reversed(draw["winners"]))}
    assert _run("--draw", _write(tmp_path, "w.json", swapped), "--csv", csv_file).stdout.startswith(
        "DIFFERENCE winner 1"
    )
    # By hand: the count and the published alternates as options.
    by_hand = ["--csv", csv_file, "--seed", seed.hex(), "--beacon", EXAMPLE_BEACON, "--winners", "4"]
    by_hand += ["--commitment", draw["seed_commitment"], "--snapshot-sha256", draw["snapshot_sha256"]]
    by_hand += ["--expect", ",".join(w["participant_id"] for w in draw["winners"]), "--alternates", "3"]
    assert _run(*by_hand, "--expect-alternates", ",".join(names)).returncode == 0
    assert _run(*by_hand, "--expect-alternates", ",".join(names[:2])).stdout.startswith("DIFFERENCE alternates")
    assert _run(*by_hand).stdout.startswith("DIFFERENCE alternates: recomputed 3, published 0")


def test_the_verify_script_checks_a_draw_with_fewer_alternates_than_asked_and_old_draw_files(tmp_path):
    rows = _random_snapshot(random.Random(12), 6)
    seed = bytes.fromhex("19" * 32)
    # Six participants, four winners, five alternates asked for: two are drawn, and the script says so.
    draw_file, csv_file, draw = _facts(tmp_path, rows, seed, None, 4, True, alternates=5)
    assert len(draw["alternates"]) == 2
    ok = _run("--draw", draw_file, "--csv", csv_file)
    assert ok.returncode == 0 and ok.stdout.startswith("MATCH"), ok.stdout
    assert "alternates: 2 of the 5 asked for (the snapshot had no more" in ok.stdout
    padded = {**draw, "alternates": [*draw["alternates"], {"rank": 3, "participant_id": rows[0][0]}]}
    bad = _run("--draw", _write(tmp_path, "padded.json", padded), "--csv", csv_file)
    assert bad.stdout.startswith("DIFFERENCE alternates: recomputed 2, published 3"), bad.stdout
    # A draw file from before alternates (no alternates_wanted, no alternates) checks as before.
    old_file, old_csv, old = _facts(tmp_path, rows, seed, None, 4, True)
    assert "alternates_wanted" not in old and "alternates" not in old
    ok = _run("--draw", old_file, "--csv", old_csv)
    assert ok.returncode == 0 and ok.stdout.startswith("MATCH") and "alternate" not in ok.stdout, ok.stdout


def _write(tmp_path, name: str, draw: dict) -> pathlib.Path:
    (tmp_path / name).write_text(json.dumps(draw))
    return tmp_path / name


def test_the_verify_script_refuses_a_draw_made_by_another_algorithm_or_naming_none(tmp_path):
    draw_file, csv_file, draw = _facts(tmp_path, _random_snapshot(random.Random(5), 40), bytes(32), None, 3, True)
    unnamed = {key: value for key, value in draw.items() if key != "algorithm"}
    for name, changed in (("v2.json", {**draw, "algorithm": "qrc-draw-v2"}), ("none.json", unnamed)):
        refused = _run("--draw", _write(tmp_path, name, changed), "--csv", csv_file)
        assert refused.returncode == 1 and refused.stdout.startswith("DIFFERENCE algorithm"), refused.stdout
        assert "qrc-draw-v1" in refused.stdout and "MATCH" not in refused.stdout
    assert "qrc-draw-v2" in _run("--draw", tmp_path / "v2.json", "--csv", csv_file).stdout


def test_the_verify_script_never_says_match_without_published_winners_to_compare(tmp_path):
    rows = _random_snapshot(random.Random(6), 60)
    seed = bytes.fromhex("5a" * 32)
    draw_file, csv_file, draw = _facts(tmp_path, rows, seed, EXAMPLE_BEACON, 3, True)
    expected = [w["participant_id"] for w in draw["winners"]]
    for name, winners in (("absent.json", None), ("empty.json", [])):
        changed = {key: value for key, value in draw.items() if key != "winners"}
        if winners is not None:
            changed["winners"] = winners
        result = _run("--draw", _write(tmp_path, name, changed), "--csv", csv_file)
        # Exit 3: the winners were computed, but there was nothing to hold them against.
        assert result.returncode == 3 and result.stdout.startswith("NOT COMPARED"), result.stdout
        assert "MATCH" not in result.stdout
        assert [line.split(". ")[1] for line in result.stdout.splitlines()[1:4]] == expected
    # The published winners given by hand are a comparison again.
    given = _run("--draw", tmp_path / "absent.json", "--csv", csv_file, "--expect", ",".join(expected))
    assert given.returncode == 0 and given.stdout.startswith("MATCH") and "--expect" in given.stdout, given.stdout
    # Without a draw file, the facts by hand and no --expect: no check either.
    by_hand = ["--csv", csv_file, "--seed", seed.hex(), "--beacon", EXAMPLE_BEACON, "--winners", "3"]
    by_hand += ["--commitment", draw["seed_commitment"], "--snapshot-sha256", draw["snapshot_sha256"]]
    result = _run(*by_hand)
    assert result.returncode == 3 and result.stdout.startswith("NOT COMPARED"), result.stdout
    assert _run(*by_hand, "--expect", ",".join(expected)).returncode == 0


def test_the_verify_script_holds_the_draw_file_to_the_commitment_published_when_scheduled(tmp_path):
    rows = _random_snapshot(random.Random(7), 80)
    seed = bytes.fromhex("c3" * 32)
    draw_file, csv_file, draw = _facts(tmp_path, rows, seed, EXAMPLE_BEACON, 4, True)
    announced = draw["seed_commitment"]
    checked = _run("--draw", draw_file, "--csv", csv_file, "--commitment", announced.upper())
    assert checked.returncode == 0 and checked.stdout.startswith("MATCH"), checked.stdout
    assert f"commitment checked: {announced.upper()}, as published when the draw was scheduled" in checked.stdout
    assert "weaker" not in checked.stdout.lower()
    # Only the draw file's own commitment: it still matches, and says plainly that this is the weaker check.
    alone = _run("--draw", draw_file, "--csv", csv_file)
    assert alone.returncode == 0 and alone.stdout.startswith("MATCH"), alone.stdout
    assert f"commitment checked: {announced}, from the draw file only. Weaker check" in alone.stdout
    # The draw file's commitment edited, its seed left: the announced commitment refuses the file.
    edited = _write(tmp_path, "edited.json", {**draw, "seed_commitment": "0" * 64})
    refused = _run("--draw", edited, "--csv", csv_file, "--commitment", announced)
    assert refused.returncode == 1 and refused.stdout.startswith("DIFFERENCE seed_commitment"), refused.stdout
    assert announced in refused.stdout and "0" * 64 in refused.stdout
    # A whole other draw file (seed, commitment and winners made to agree) cannot change what was announced.
    other_seed = bytes.fromhex("d4" * 32)
    other = _draw(rows, other_seed, EXAMPLE_BEACON, 4, True)
    forged = {
        **draw,
        "seed": other_seed.hex(),
        "seed_commitment": draws.commitment(other_seed),
        "winners": [{"rank": w.rank, "participant_id": w.participant_id, "entries": w.entries} for w in other],
    }
    assert _run("--draw", _write(tmp_path, "forged.json", forged), "--csv", csv_file).returncode == 0
    refused = _run("--draw", tmp_path / "forged.json", "--csv", csv_file, "--commitment", announced)
    assert refused.returncode == 1 and refused.stdout.startswith("DIFFERENCE seed_commitment"), refused.stdout


def test_the_beacon_is_mixed_in_with_white_space_at_its_ends_removed_everywhere(tmp_path):
    # Exactly what str.strip() removes, which is what the service has always stored.
    python_strips = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert python_strips == draws.BEACON_SPACE
    assert verify_draw.BEACON_SPACE == draws.BEACON_SPACE
    sha = EXAMPLE["snapshot_sha256"]
    for copied in (" 05 11 23 30 38 42\n", "\t05 11 23 30 38 42\r\n", "\u00a005 11 23 30 38 42\u3000"):
        assert draws.beacon_text(copied) == EXAMPLE_BEACON
        assert draws.mixing_key(EXAMPLE_SEED, sha, copied).hex() == EXAMPLE["key"]
    # Space inside is part of the value; only the ends are trimmed.
    assert draws.mixing_key(EXAMPLE_SEED, sha, "05 11 23 30 38  42").hex() != EXAMPLE["key"]
    # The verify script applies the same rule to the beacon as the lottery published it.
    rows = _random_snapshot(random.Random(8), 50)
    draw_file, csv_file, draw = _facts(tmp_path, rows, bytes(range(32)), EXAMPLE_BEACON, 3, True)
    copied = _run("--draw", draw_file, "--csv", csv_file, "--beacon", "  05 11 23 30 38 42\n")
    assert copied.returncode == 0 and copied.stdout.startswith("MATCH"), copied.stdout
    assert f'beacon: "{EXAMPLE_BEACON}" (--beacon)' in copied.stdout
    assert f'beacon: "{EXAMPLE_BEACON}" (the draw file\'s)' in _run("--draw", draw_file, "--csv", csv_file).stdout
    # The rule is written where a regulator reads it: every character it removes is listed.
    section = DOC[DOC.index("**Beacon.**") :]
    assert all(f"U+{ord(c):04X}" in section for c in draws.BEACON_SPACE)


def test_the_verify_script_imports_the_standard_library_only():
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    modules = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    modules |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert modules - {"__future__"} <= set(sys.stdlib_module_names), modules


def test_the_runners_fast_pseudonyms_are_the_brands_pseudonyms():
    from chalicelib.domain.phones import brand_shopper_id, brand_shopper_ids

    fast = brand_shopper_ids("p" * 32, "brand-a")
    for n in range(2000):
        shopper = f"shp_{n:026d}"
        assert fast(shopper) == brand_shopper_id("p" * 32, "brand-a", shopper)
