"""Pack integrity signals, the pure part: thresholds with their defaults, and when each signal is raised."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime

from chalicelib.domain import codes
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.phones import brand_shopper_id
from chalicelib.domain.places import UNKNOWN, country_of, distance_km, known_place

__all__ = [
    "code_text",
    "signal_subject",
    "SIGNALS",
    "Thresholds",
    "thresholds_from",
    "validated_thresholds",
    "copied",
    "too_many",
    "too_far",
    "within_window",
    "guessing",
    "diverted",
    "diverted_raised",
    "outside_market",
    "farthest_km",
    "window_of",
    "day_windows",
    "check_market",
]

SIGNALS = ("copied_code", "diverted_batch", "farm", "guessing_network")


@dataclass(frozen=True)
class Thresholds:
    """When each signal is raised; a brand's owners change them (docs/integrity.md says why these defaults)."""

    # Copied code: a claimed code tried by at least this many other shoppers.
    copied_shoppers: int = 3
    # Farm: one shopper claiming more than `farm_claims` codes within `farm_minutes`, or claiming
    # from two places more than `farm_km` apart within `farm_minutes`.
    farm_claims: int = 20
    farm_minutes: int = 60
    farm_km: int = 300
    # Diverted batch: at least `diverted_scans` scans outside the batch's market, making at least
    # `diverted_percent` of the batch's placed scans.
    diverted_scans: int = 20
    diverted_percent: int = 10
    # Guessing network: at least this many invalid codes from one network in a day.
    guessing_invalid: int = 30


_BOUNDS = {
    "copied_shoppers": (1, 10_000),
    "farm_claims": (1, 100_000),
    "farm_minutes": (1, 7 * 24 * 60),
    "farm_km": (10, 5_000),
    "diverted_scans": (1, 10_000_000),
    "diverted_percent": (1, 100),
    "guessing_invalid": (1, 1_000_000),
}


def thresholds_from(stored: Mapping[str, int]) -> Thresholds:
    """A brand's thresholds: what it stored over the defaults (an unknown name stored is ignored)."""
    names = {f.name for f in fields(Thresholds)}
    return Thresholds(**{name: int(value) for name, value in stored.items() if name in names})


def validated_thresholds(body: Mapping[str, object], current: Thresholds) -> Thresholds:
    """`current` with the thresholds `body` sets, each a whole number within its bounds; 400 naming the field."""
    values = asdict(current)
    for name, value in body.items():
        if name not in _BOUNDS:
            raise InvalidInput(f"{name}: Not a threshold; use one of {', '.join(sorted(_BOUNDS))}.", field=name)
        low, high = _BOUNDS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"{name}: Must be a whole number from {low} to {high:,}.", field=name)
        values[name] = value
    return Thresholds(**values)


def window_of(epoch_seconds: float, minutes: int) -> int:
    """The fixed window (its number) an instant falls in, for windows of `minutes`."""
    return int(epoch_seconds // (minutes * 60))


def day_windows(at: datetime) -> tuple[str, str]:
    """The two 24-hour windows an instant counts in, one starting at 00:00 UTC and one at 12:00 UTC: a
    burst shorter than 12 hours lies whole in one of them, wherever midnight falls."""
    seconds = at.timestamp()
    return f"d{int(seconds // 86400)}", f"h{int((seconds + 43200) // 86400)}"


def copied(other_shoppers: int, limits: Thresholds) -> bool:
    return other_shoppers >= limits.copied_shoppers


def farthest_km(places: Iterable[str]) -> float:
    """The greatest distance between any two of `places` whose seats are known (0 for fewer than two)."""
    known = sorted({p for p in places if p != UNKNOWN})
    return max((distance_km(a, b) or 0.0 for a, b in itertools.combinations(known, 2)), default=0.0)


def too_many(claims: int, limits: Thresholds) -> bool:
    """Whether one shopper's claims within one window are more than a farm's limit."""
    return claims > limits.farm_claims


def within_window(first: datetime, last: datetime, limits: Thresholds) -> bool:
    """Whether two instants are at most `farm_minutes` apart (a sliding window, not a fixed one)."""
    return abs((last - first).total_seconds()) <= limits.farm_minutes * 60


def too_far(previous: str, place: str, seconds: float, limits: Thresholds) -> bool:
    """Whether two consecutive claims of one shopper, `seconds` apart, were placed too far apart too soon."""
    if seconds > limits.farm_minutes * 60:
        return False
    return farthest_km([previous, place]) > limits.farm_km


def guessing(invalid: int, limits: Thresholds) -> bool:
    return invalid >= limits.guessing_invalid


def diverted(by_place: Mapping[str, int], country: str, places: Iterable[str]) -> tuple[int, int]:
    """Scans outside a market (`country`, and its `places` if any named) and all placed scans, by place
    counts; a scan with no known place counts in neither."""
    market = set(places)
    outside = placed = 0
    for place, count in by_place.items():
        if place == UNKNOWN:
            continue
        placed += count
        if outside_market(place, country, market):
            outside += count
    return outside, placed


def outside_market(place: str, country: str, market: set[str]) -> bool:
    """Whether a scan's place lies outside a market: another country, or a province the market does
    not name (a scan placed only by its country is inside its own country's market)."""
    if country_of(place) != country:
        return True
    return bool(market) and place != country and place not in market


def diverted_raised(outside: int, placed: int, limits: Thresholds) -> bool:
    return outside >= limits.diverted_scans and outside * 100 >= limits.diverted_percent * placed


def check_market(country: object, places: object) -> tuple[str | None, list[str]]:
    """A batch's market from a request: a country code and, within it, provinces or regions; 400 naming the field."""
    if country is None:
        if places:
            raise InvalidInput("market.country: Name the country the provinces are in.", field="market.country")
        return None, []
    if not isinstance(country, str) or len(country) != 2 or not known_place(country):
        raise InvalidInput("market.country: A two-letter country code (VN, PH).", field="market.country")
    if places is None:
        return country, []
    if not isinstance(places, list) or len(places) > 100:
        raise InvalidInput("market.places: A list of at most 100 province or region codes.", field="market.places")
    for index, place in enumerate(places):
        field = f"market.places[{index}]"
        if not isinstance(place, str) or not known_place(place) or country_of(place) != country or place == country:
            raise InvalidInput(
                f"{field}: A province or region code of {country} (VN-HN, PH-07; docs/integrity.md).", field=field
            )
    return country, sorted(set(places))


def code_text(keyring: codes.Keyring, code_key: str) -> dict:
    """A code's key (`<batch number>:<serial>`) as the printed code an operator can act on, and its serial."""
    batch_number, serial = (int(part) for part in code_key.split(":"))
    return {"code": codes.mint_code(keyring, batch_number, serial), "serial": serial}


def signal_subject(kind: str, subject: str, brand_id: str, pepper: str, keyring: codes.Keyring) -> str:
    """What a signal is about, as a brand may see it: a copied code as printed, a farm's shopper as the brand's
    pseudonym, a network as its pseudonym already is."""
    if kind == "copied_code":
        return str(code_text(keyring, subject)["code"])
    return brand_shopper_id(pepper, brand_id, subject) if kind == "farm" else subject
