"""Coarse places of scans as data with their sources: Vietnam's 34 provinces, the Philippines' regions."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import math
import re
from typing import NamedTuple

__all__ = [
    "UNKNOWN",
    "VN_PROVINCES",
    "VN_MERGED_INTO",
    "PH_REGIONS",
    "PH_PROVINCE_REGION",
    "Province",
    "place_of",
    "known_place",
    "country_of",
    "distance_km",
    "name_of",
    "network_pseudonym",
]

UNKNOWN = "unknown"


class Province(NamedTuple):
    """A province or region: its name and the latitude and longitude of its seat (a centroid stand-in)."""

    name: str
    lat: float
    lon: float


# Vietnam since 1 July 2025: 34 provincial units (28 provinces, 6 centrally-run cities), set by
# the National Assembly's Resolution No. 202/2025/QH15 of 12 June 2025 (reported by Lao Động,
# https://news.laodong.vn/thoi-su/thoi-diem-ket-thuc-hoat-dong-bo-may-52-tinh-thanh-cu-1522769.ldo,
# and Travellive, https://vntravellive.com/en/quoc-hoi-thong-qua-viec-sap-nhap-ca-nuoc-con-34-tinh-thanh-pho-d39075.html:
# 11 units unchanged, 52 merged into 23). ISO 3166-2:VN still lists the 63 units before the merger
# (58 provinces VN-01..VN-73, five cities VN-CT, VN-DN, VN-HN, VN-HP, VN-SG) and has published no
# codes for the merged ones, so CloudFront, which sends ISO 3166-2 subdivisions, sends the old codes.
# Each province here is keyed by the ISO code of the unit whose name it kept (Lào Cai absorbed Yên
# Bái: VN-02), and every absorbed unit's code maps to it (VN_MERGED_INTO). The seat's coordinates
# are the province's administrative seat after the merger, rounded: a stand-in for its centroid.
VN_PROVINCES: dict[str, Province] = {
    "VN-HN": Province("Hà Nội", 21.03, 105.85),
    "VN-26": Province("Huế", 16.46, 107.59),
    "VN-HP": Province("Hải Phòng", 20.86, 106.68),
    "VN-DN": Province("Đà Nẵng", 16.05, 108.20),
    "VN-SG": Province("Hồ Chí Minh", 10.78, 106.70),
    "VN-CT": Province("Cần Thơ", 10.03, 105.78),
    "VN-01": Province("Lai Châu", 22.40, 103.46),
    "VN-71": Province("Điện Biên", 21.39, 103.02),
    "VN-05": Province("Sơn La", 21.33, 103.91),
    "VN-09": Province("Lạng Sơn", 21.85, 106.76),
    "VN-13": Province("Quảng Ninh", 20.95, 107.08),
    "VN-21": Province("Thanh Hóa", 19.81, 105.78),
    "VN-22": Province("Nghệ An", 18.68, 105.68),
    "VN-23": Province("Hà Tĩnh", 18.34, 105.91),
    "VN-04": Province("Cao Bằng", 22.67, 106.26),
    "VN-07": Province("Tuyên Quang", 21.82, 105.21),
    "VN-02": Province("Lào Cai", 21.72, 104.91),
    "VN-69": Province("Thái Nguyên", 21.59, 105.85),
    "VN-68": Province("Phú Thọ", 21.32, 105.40),
    "VN-56": Province("Bắc Ninh", 21.27, 106.19),
    "VN-66": Province("Hưng Yên", 20.65, 106.05),
    "VN-18": Province("Ninh Bình", 20.25, 105.97),
    "VN-25": Province("Quảng Trị", 17.47, 106.62),
    "VN-29": Province("Quảng Ngãi", 15.12, 108.80),
    "VN-30": Province("Gia Lai", 13.78, 109.22),
    "VN-34": Province("Khánh Hòa", 12.24, 109.19),
    "VN-35": Province("Lâm Đồng", 11.94, 108.44),
    "VN-33": Province("Đắk Lắk", 12.67, 108.04),
    "VN-39": Province("Đồng Nai", 10.95, 106.82),
    "VN-37": Province("Tây Ninh", 10.54, 106.41),
    "VN-49": Province("Vĩnh Long", 10.25, 105.97),
    "VN-45": Province("Đồng Tháp", 10.36, 106.36),
    "VN-59": Province("Cà Mau", 9.18, 105.15),
    "VN-44": Province("An Giang", 10.01, 105.08),
}

# The 29 units merged away in 2025, by their ISO 3166-2 code, to the province they joined.
VN_MERGED_INTO: dict[str, str] = {
    "VN-03": "VN-07",  # Hà Giang -> Tuyên Quang
    "VN-06": "VN-02",  # Yên Bái -> Lào Cai
    "VN-53": "VN-69",  # Bắc Kạn -> Thái Nguyên
    "VN-70": "VN-68",  # Vĩnh Phúc -> Phú Thọ
    "VN-14": "VN-68",  # Hòa Bình -> Phú Thọ
    "VN-54": "VN-56",  # Bắc Giang -> Bắc Ninh
    "VN-20": "VN-66",  # Thái Bình -> Hưng Yên
    "VN-61": "VN-HP",  # Hải Dương -> Hải Phòng
    "VN-63": "VN-18",  # Hà Nam -> Ninh Bình
    "VN-67": "VN-18",  # Nam Định -> Ninh Bình
    "VN-24": "VN-25",  # Quảng Bình -> Quảng Trị
    "VN-27": "VN-DN",  # Quảng Nam -> Đà Nẵng
    "VN-28": "VN-29",  # Kon Tum -> Quảng Ngãi
    "VN-31": "VN-30",  # Bình Định -> Gia Lai
    "VN-36": "VN-34",  # Ninh Thuận -> Khánh Hòa
    "VN-72": "VN-35",  # Đắk Nông -> Lâm Đồng
    "VN-40": "VN-35",  # Bình Thuận -> Lâm Đồng
    "VN-32": "VN-33",  # Phú Yên -> Đắk Lắk
    "VN-57": "VN-SG",  # Bình Dương -> Hồ Chí Minh
    "VN-43": "VN-SG",  # Bà Rịa - Vũng Tàu -> Hồ Chí Minh
    "VN-58": "VN-39",  # Bình Phước -> Đồng Nai
    "VN-41": "VN-37",  # Long An -> Tây Ninh
    "VN-52": "VN-CT",  # Sóc Trăng -> Cần Thơ
    "VN-73": "VN-CT",  # Hậu Giang -> Cần Thơ
    "VN-50": "VN-49",  # Bến Tre -> Vĩnh Long
    "VN-51": "VN-49",  # Trà Vinh -> Vĩnh Long
    "VN-46": "VN-45",  # Tiền Giang -> Đồng Tháp
    "VN-55": "VN-59",  # Bạc Liêu -> Cà Mau
    "VN-47": "VN-44",  # Kiên Giang -> An Giang
}

# The Philippines: ISO 3166-2:PH's first-level subdivisions, the 17 regions (seat of each region's
# offices for its coordinates). The Negros Island Region (Republic Act No. 12000, 2024) has no ISO
# code yet: its provinces (PH-NEC, PH-NER, PH-SIG) stay with Western and Central Visayas here.
PH_REGIONS: dict[str, Province] = {
    "PH-00": Province("National Capital Region", 14.60, 120.98),
    "PH-15": Province("Cordillera Administrative Region", 16.41, 120.60),
    "PH-01": Province("Ilocos", 16.62, 120.32),
    "PH-02": Province("Cagayan Valley", 17.61, 121.73),
    "PH-03": Province("Central Luzon", 15.03, 120.69),
    "PH-40": Province("Calabarzon", 14.21, 121.17),
    "PH-41": Province("Mimaropa", 13.41, 121.18),
    "PH-05": Province("Bicol", 13.14, 123.74),
    "PH-06": Province("Western Visayas", 10.72, 122.56),
    "PH-07": Province("Central Visayas", 10.32, 123.89),
    "PH-08": Province("Eastern Visayas", 11.24, 125.00),
    "PH-09": Province("Zamboanga Peninsula", 7.83, 123.44),
    "PH-10": Province("Northern Mindanao", 8.48, 124.65),
    "PH-11": Province("Davao", 7.07, 125.61),
    "PH-12": Province("Soccsksargen", 6.50, 124.85),
    "PH-13": Province("Caraga", 8.95, 125.54),
    "PH-14": Province("Bangsamoro", 7.22, 124.25),
}

# ISO 3166-2:PH's provinces by region, for a viewer header that names a province instead of its region.
_PH_BY_REGION = {
    "PH-15": "ABR APA BEN IFU KAL MOU",
    "PH-01": "ILN ILS LUN PAN",
    "PH-02": "BTN CAG ISA NUV QUI",
    "PH-03": "AUR BAN BUL NUE PAM TAR ZMB",
    "PH-40": "BTG CAV LAG QUE RIZ",
    "PH-41": "MAD MDC MDR PLW ROM",
    "PH-05": "ALB CAN CAS CAT MAS SOR",
    "PH-06": "AKL ANT CAP GUI ILI NEC",
    "PH-07": "BOH CEB NER SIG",
    "PH-08": "BIL EAS LEY NSA SLE WSA",
    "PH-09": "ZAN ZAS ZSI",
    "PH-10": "BUK CAM LAN MSC MSR",
    "PH-11": "COM DAO DAS DAV DVO",
    "PH-12": "NCO SAR SCO SUK",
    "PH-13": "AGN AGS DIN SUN SUR",
    "PH-14": "BAS LAS MAG MGN MGS SLU TAW",
}
PH_PROVINCE_REGION: dict[str, str] = {
    f"PH-{province}": region for region, provinces in _PH_BY_REGION.items() for province in provinces.split()
}

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SUBDIVISION = re.compile(r"^[A-Z0-9]{1,3}$")
_COARSE = {"VN": (VN_PROVINCES, VN_MERGED_INTO), "PH": (PH_REGIONS, PH_PROVINCE_REGION)}


@functools.lru_cache(maxsize=512)
def place_of(country: str | None, region: str | None) -> str:
    """The coarse place of a scan from the edge's viewer headers: `VN-HN`, `PH-07`, a bare country
    code elsewhere (or when the province is not known), `unknown` when the country is absent or not a code.

    `region` is CloudFront's `CloudFront-Viewer-Country-Region`: the subdivision part of the ISO
    3166-2 code (`HN`), or the whole code (`VN-HN`) as some proxies send it.
    """
    country = (country or "").strip().upper()
    if not _COUNTRY.match(country):
        return UNKNOWN
    tables = _COARSE.get(country)
    if tables is None:
        return country
    region = (region or "").strip().upper().removeprefix(f"{country}-")
    if not _SUBDIVISION.match(region):
        return country
    code = f"{country}-{region}"
    places, successors = tables
    if code in places:
        return code
    return successors.get(code, country)


def known_place(place: str) -> bool:
    """Whether `place` is a province, a region or a bare country code (what a batch's market may name)."""
    return place in VN_PROVINCES or place in PH_REGIONS or bool(_COUNTRY.match(place))


def country_of(place: str) -> str:
    """The country of a place (`VN-HN` -> `VN`); `unknown` stays `unknown`."""
    return place if place == UNKNOWN else place[:2]


def _seat(place: str) -> Province | None:
    return VN_PROVINCES.get(place) or PH_REGIONS.get(place)


def name_of(place: str) -> str:
    """A place's name for people (the code itself for a bare country or `unknown`)."""
    seat = _seat(place)
    return seat.name if seat else place


def distance_km(a: str, b: str) -> float | None:
    """How far apart two provinces' or regions' seats are (great-circle), or None when either has none."""
    first, second = _seat(a), _seat(b)
    if first is None or second is None:
        return None
    lat1, lat2 = math.radians(first.lat), math.radians(second.lat)
    dlat, dlon = lat2 - lat1, math.radians(second.lon - first.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def network_pseudonym(ip: str, key: str) -> str | None:
    """A keyed pseudonym of the network an address belongs to (its /24, or /48 for IPv6): guesses from
    one network are grouped without the address, or the network, ever being stored. None for no address."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    digest = hmac.new(key.encode(), f"network:{network}".encode(), hashlib.sha256).hexdigest()
    return f"net-{digest[:16]}"
