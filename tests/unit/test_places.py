"""Coarse places from the edge's headers, and the integrity signals' rules."""

from __future__ import annotations

import pytest

from chalicelib.domain import integrity, places
from chalicelib.domain.errors import InvalidInput


def test_vietnam_has_34_provinces_and_every_one_of_the_63_old_codes_maps_to_one():
    assert len(places.VN_PROVINCES) == 34
    assert len(places.VN_MERGED_INTO) == 29
    assert set(places.VN_MERGED_INTO.values()) <= set(places.VN_PROVINCES)
    assert not set(places.VN_MERGED_INTO) & set(places.VN_PROVINCES)
    old_codes = set(places.VN_PROVINCES) | set(places.VN_MERGED_INTO)
    assert len(old_codes) == 63
    for code in old_codes:
        assert places.place_of("VN", code.split("-")[1]) in places.VN_PROVINCES


@pytest.mark.parametrize(
    ("country", "region", "place"),
    [
        ("VN", "HN", "VN-HN"),
        ("vn", " sg ", "VN-SG"),
        ("VN", "VN-57", "VN-SG"),  # Bình Dương joined Hồ Chí Minh City
        ("VN", "06", "VN-02"),  # Yên Bái joined Lào Cai
        ("VN", "99", "VN"),  # not a code: the country only
        ("VN", None, "VN"),
        ("PH", "00", "PH-00"),
        ("PH", "CEB", "PH-07"),  # a province: its region
        ("PH", "NEC", "PH-06"),
        ("TH", "10", "TH"),  # elsewhere: the country only
        ("", "HN", "unknown"),
        (None, None, "unknown"),
        ("V1", "HN", "unknown"),
        ("VNM", "HN", "unknown"),
        ("VN", "H-N;DROP", "VN"),
    ],
)
def test_place_of_normalises_the_viewer_headers(country, region, place):
    assert places.place_of(country, region) == place


def test_the_philippines_has_17_regions_and_every_province_is_in_one():
    assert len(places.PH_REGIONS) == 17
    assert set(places.PH_PROVINCE_REGION.values()) <= set(places.PH_REGIONS)


def test_distances_between_seats_are_plausible():
    hanoi_saigon = places.distance_km("VN-HN", "VN-SG")
    assert hanoi_saigon is not None and 1100 < hanoi_saigon < 1200
    assert places.distance_km("VN-HN", "unknown") is None
    assert integrity.farthest_km(["VN-HN", "VN-HN", "unknown"]) == 0


def test_network_pseudonyms_group_a_network_and_hide_it():
    key = "k" * 32
    a = places.network_pseudonym("198.51.100.7", key)
    assert a == places.network_pseudonym("198.51.100.200", key)
    assert a != places.network_pseudonym("198.51.101.7", key)
    assert a is not None and "198" not in a
    assert places.network_pseudonym("2001:db8:1:2::1", key) == places.network_pseudonym("2001:db8:1:ffff::9", key)
    assert places.network_pseudonym("unknown", key) is None


def test_signal_rules():
    limits = integrity.Thresholds()
    assert integrity.copied(3, limits) and not integrity.copied(2, limits)
    assert integrity.too_many(21, limits) and not integrity.too_many(20, limits)
    assert integrity.too_far("VN-HN", "VN-SG", 3000, limits)
    assert not integrity.too_far("VN-HN", "VN-SG", 3601, limits)  # time enough to fly
    assert not integrity.too_far("VN-HN", "VN-56", 60, limits)  # Bắc Ninh is next door
    assert not integrity.too_far("VN-HN", "unknown", 60, limits)
    outside, placed = integrity.diverted({"VN-HN": 10, "VN-SG": 30, "unknown": 50, "PH-00": 5}, "VN", ["VN-HN"])
    assert (outside, placed) == (35, 45)
    assert integrity.diverted({"VN-SG": 5, "VN": 3}, "VN", []) == (0, 8)
    assert integrity.diverted_raised(35, 45, limits) and not integrity.diverted_raised(5, 45, limits)


@pytest.mark.parametrize(
    ("country", "places_", "field"),
    [
        ("VNM", None, "market.country"),
        (7, None, "market.country"),
        (None, ["VN-HN"], "market.country"),
        ("VN", "VN-HN", "market.places"),
        ("VN", ["VN-HN", "VN-99"], "market.places[1]"),
        ("VN", ["VN"], "market.places[0]"),
        ("VN", ["PH-07"], "market.places[0]"),
    ],
)
def test_bad_markets_name_the_field(country, places_, field):
    with pytest.raises(InvalidInput) as refused:
        integrity.check_market(country, places_)
    assert refused.value.field == field


def test_thresholds_are_validated_one_by_one():
    current = integrity.Thresholds()
    assert integrity.validated_thresholds({"farm_km": 500}, current).farm_km == 500
    for body, field in [({"farm_km": 1}, "farm_km"), ({"farm_km": True}, "farm_km"), ({"nope": 1}, "nope")]:
        with pytest.raises(InvalidInput) as refused:
            integrity.validated_thresholds(body, current)
        assert refused.value.field == field
    assert integrity.thresholds_from({"farm_km": 42, "retired": 1}).farm_km == 42
