"""The law of each market a campaign runs in, as data with its sources, and the prize tax and amounts it gives (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "MarketCode",
    "PrizeKind",
    "Rule",
    "Market",
    "MARKETS",
    "market",
    "tax_on",
    "format_amount",
    "claim_days_bounds",
    "RETENTION_RULES",
    "retention_bounds",
    "subject_request_days",
]


class MarketCode(StrEnum):
    VN = "VN"
    PH = "PH"


class PrizeKind(StrEnum):
    """How a prize line is won: by a scan (secret winning codes or odds) or by a draw."""

    INSTANT = "instant"
    DRAW = "draw"


@dataclass(frozen=True)
class Rule:
    """One rule of a market: its value, what it means, and where the law says it."""

    name: str
    value: int | str
    says: str
    source: str
    url: str = ""


@dataclass(frozen=True)
class Market:
    """A market's rules by name; a change of law is a change of these rows."""

    code: MarketCode
    rules: tuple[Rule, ...]

    def value(self, name: str) -> int | str:
        for rule in self.rules:
            if rule.name == name:
                return rule.value
        raise KeyError(name)

    def number(self, name: str) -> int:
        value = self.value(name)
        if not isinstance(value, int):
            raise TypeError(f"{self.code} {name} is not a number")
        return value

    @property
    def currency(self) -> str:
        return str(self.value("currency"))

    @property
    def exponent(self) -> int:
        return self.number("currency_exponent")


_ISO_4217 = "ISO 4217 (currency code and its minor unit)"
_ISO_URL = "https://www.iso.org/iso-4217-currency-codes.html"
_PLATFORM = "The platform's default policy, not a rule of law: a brand's registered rules may set their own."
_VN_PIT = (
    "Law on Personal Income Tax No. 04/2007/QH12 as amended by Law No. 26/2012/QH13: Art. 3(8) (income from "
    "winning prizes is taxable), Art. 15 (taxable income is the part of each prize's value above VND 10,000,000), "
    "Art. 23 (rate 10%); detailed by Circular No. 111/2013/TT-BTC, Art. 15. Article numbers as commonly cited; "
    "not checked here against the official gazette text, and a revised PIT law should be checked before use."
)
_VN_PIT_URL = (
    "https://thuvienphapluat.vn/van-ban/Thue-Phi-Le-Phi/Luat-thue-thu-nhap-ca-nhan-2007-04-2007-QH12-59654.aspx"
)
_VN_DECREE_81 = "Decree No. 81/2018/ND-CP on trade promotion (as amended by Decree No. 128/2024/ND-CP)"
_VN_DECREE_81_URL = "https://lmp-lawyers.com/en/procedure-to-register-the-lucky-draw-promotion/"
_PH_TAX = (
    "NIRC of 1997 Sec. 24(B)(1), as amended by RA 10963 (TRAIN): a 20% final tax on prizes, except prizes of "
    "PHP 10,000 or less; withheld at source by the payor (RR No. 2-98 Sec. 2.57)."
)
_PH_TAX_URL = "https://www.respicio.ph/commentaries/taxation-on-prizes-and-winnings-under-the-philippine-tax-code"
_PH_DTI = "DTI DAO No. 2, s. 1993 (rules implementing the Consumer Act, RA 7394, on sales promotions)"
_PH_DTI_URL = (
    "https://fairtrade.dti.gov.ph/faq/what-specific-information-should-be-included-in-the-announcements-"
    "publications-or-advertisements-of-the-mechanics-of-the-sales-campaign/"
)
_VN_PDPL_BREACH = (
    "Law on Personal Data Protection No. 91/2025/QH15 (in force 1 January 2026) and Decree No. 356/2025/ND-CP: "
    "a breach of personal data is notified to the personal data protection authority (the Ministry of Public "
    "Security, A05) within 72 hours of its detection. Taken from summaries of the law; the article is not checked "
    "here against the official gazette text."
)
_VN_PDPL_BREACH_URL = "https://www.vnetwork.vn/en-US/news/luat-so-91-2025-qh15"
_PH_NPC_BREACH = (
    "Data Privacy Act of 2012 (RA 10173) Sec. 20(f); NPC Circular 16-03 (Personal Data Breach Management) "
    "Sec. 17 (the Commission) and Sec. 18 (the data subjects): within 72 hours of knowledge of, or reasonable "
    "belief in, a breach that must be notified; the full report within 5 days."
)
_PH_NPC_BREACH_URL = (
    "https://www.privacy.gov.ph/memorandum-circulars/npc-circular-16-03-personal-data-breach-management/"
)

_VN_PDPL = (
    "Law on Personal Data Protection No. 91/2025/QH15 (in force 1 January 2026), the principle that personal data "
    "is kept only for the time its purpose needs and then deleted or de-identified, with Decree No. 356/2025/ND-CP; "
    "the law names no number of months: the number is the platform's reading of it. Article numbers not checked here "
    "against the official gazette text."
)
_VN_PDPL_URL = (
    "https://english.luatvietnam.vn/dan-su/law-on-personal-data-protection-law-no-91-2025-qh15-405135-d1.html"
)
_VN_TAX_RECORDS = (
    "Law on Tax Administration No. 38/2019/QH14 (the withholding payer's annual finalisation of personal income "
    "tax, due by the last day of the third month after the year ends) read with Circular No. 111/2013/TT-BTC on "
    "prizes: the winner's ID number stays until the year's finalisation is filed. Article numbers not checked here."
)
_VN_ACCOUNTING = (
    "Law on Accounting No. 88/2015/QH13 Art. 41 and Decree No. 174/2016/ND-CP Art. 12: accounting documents used "
    "for the books are kept at least 10 years (5 for the rest). The brand keeps them in its own books, from the "
    "regulator's papers it downloads; the platform never needs the details longer."
)
_VN_ACCOUNTING_URL = (
    "https://lawnet.vn/thong-tin-phap-luat/en/chinh-sach-moi/vietnam-accounting-documents-to-be-retained-for-at-least"
    "-5-years-115946.html"
)
_PH_DPA = (
    "Data Privacy Act of 2012 (RA 10173) Sec. 11(e) and its IRR Sec. 19(d): personal data is retained only as long "
    "as its purpose, a legal claim or the law needs; the law names no number of months: the number is the "
    "platform's reading of it."
)
_PH_DPA_URL = "https://grokipedia.com/page/Retention_limitation_principle_Data_Privacy_Act_of_2012"
_PH_TAX_RECORDS = (
    "RR No. 2-98 as amended (the annual information return of final taxes withheld, BIR Form 1604-F, filed by "
    "31 January of the next year): the winner's ID number stays until that return is filed. Section not checked "
    "here against the regulation's text."
)
_PH_BOOKS = (
    "NIRC Sec. 235 with RR No. 17-2013 as amended by RR No. 5-2014 Sec. 2: books of accounts and their supporting "
    "records are kept 10 years. The brand keeps them in its own books; the platform never needs the details longer."
)
_PH_BOOKS_URL = "https://taxacctgcenter.ph/preservation-of-books-of-accounts-and-accounting-records-in-philippines"

_VN_PDP = (
    "Law on Personal Data Protection No. 91/2025/QH15 (in force 1 January 2026), Art. 4(1) (the data subject's "
    "rights to access, rectification, provision, erasure and restriction), detailed by Decree No. 356/2025/ND-CP "
    "(in force 1 January 2026, replacing Decree 13/2023/ND-CP), its article on carrying out data subjects' "
    "requests: the controller answers within 2 working days of receipt and carries out a request within 10 to 20 "
    "days by its kind (15 days for withdrawal of consent, restriction or objection, 20 where a processor or third "
    "party must act; one extension of at most 15 days). The article number and the period for access, "
    "rectification and erasure were not confirmed here against the official text: the stricter end of the range "
    "(10 days) is used until they are."
)
_VN_PDP_URL = (
    "https://cdlaf.vn/en/rights-of-personal-data-subjects-and-methods-of-obtaining-consent-under-decree-no-356-"
    "2025-nd-cp/"
)
_PH_DPA = (
    "Data Privacy Act of 2012 (RA 10173) Sec. 16 (rights of the data subject: access, correction, erasure) and its "
    "2016 IRR Secs. 34-35; NPC Advisory No. 2021-01 (data subject rights): a request is complied with within a "
    "period not exceeding thirty (30) working days. Counted here as 30 calendar days, which is stricter."
)
_PH_DPA_URL = "https://www.pressreader.com/philippines/business-world/20210224/281659667760288"

MARKETS: dict[MarketCode, Market] = {
    MarketCode.VN: Market(
        MarketCode.VN,
        (
            Rule("currency", "VND", "Prize values are announced in Vietnamese dong.", _ISO_4217, _ISO_URL),
            Rule("currency_exponent", 0, "The dong has no minor unit: amounts are whole dong.", _ISO_4217, _ISO_URL),
            Rule(
                "prize_tax_rate_bp",
                1000,
                "Personal income tax on a prize: 10% (1000 basis points).",
                _VN_PIT,
                _VN_PIT_URL,
            ),
            Rule(
                "prize_tax_threshold",
                10_000_000,
                "A prize is taxed on the part of its value above VND 10,000,000 (per prize, per win).",
                _VN_PIT,
                _VN_PIT_URL,
            ),
            Rule("prize_tax_base", "excess", "The tax is on the part above the threshold only.", _VN_PIT, _VN_PIT_URL),
            Rule(
                "id_required_above",
                10_000_000,
                "A winner gives an ID number to claim a prize worth more than this: the brand withholds and "
                "declares tax on it in the winner's name.",
                _PLATFORM + " Set at the prize tax threshold.",
            ),
            Rule("claim_days_min", 7, "A claim window is at least this many days.", _PLATFORM),
            Rule("claim_days_default", 30, "A prize line's claim window when the brand sets none.", _PLATFORM),
            Rule(
                "claim_days_max",
                90,
                "A claim window is at most this many days, so the results report can follow in time.",
                _PLATFORM,
            ),
            Rule(
                "report_deadline_days",
                45,
                "The written results report is due within 45 days after the prize-award deadline of the "
                "registered promotion, to the authority that registered it.",
                _VN_DECREE_81 + ", Art. 21 (report on the results of a promotion); article number not checked "
                "here against the official text.",
                _VN_DECREE_81_URL,
            ),
            Rule(
                "report_deadline_from", "prize_award_deadline", "The report deadline counts from here.", _VN_DECREE_81
            ),
            Rule(
                "unawarded_state_share_bp",
                5000,
                "Of the announced value of a lucky-draw prize nobody won, 50% is paid to the state budget; the "
                "report lists prizes not awarded or not claimed with their announced value.",
                _VN_DECREE_81 + ", Art. 12 (lucky-draw promotions), carried over from Commercial Law 2005 "
                "Art. 96(4); clause not checked here against the official text.",
                _VN_DECREE_81_URL,
            ),
            Rule(
                "breach_notice_hours",
                72,
                "A personal data breach is notified to the authority within this many hours of its detection; "
                "the brand notifies, told by the platform in time for it (docs/operations.md).",
                _VN_PDPL_BREACH,
                _VN_PDPL_BREACH_URL,
            ),
            Rule(
                "delivery_months_max",
                24,
                "A gift's or prize's delivery details are kept at most this many months after it was shipped, "
                "cancelled or closed: long enough for a return or a complaint, no longer.",
                _VN_PDPL,
                _VN_PDPL_URL,
            ),
            Rule(
                "prize_record_months_min",
                16,
                "A closed win's details (delivery and ID number) are kept at least this many months: a win closed "
                "in January is still in the withholding finalisation filed by the end of March the year after.",
                _VN_TAX_RECORDS,
                _VN_PIT_URL,
            ),
            Rule(
                "prize_record_months_max",
                120,
                "A closed win's details are kept at most this many months, the longest the accounting law keeps "
                "any record.",
                _VN_ACCOUNTING,
                _VN_ACCOUNTING_URL,
            ),
            Rule(
                "subject_request_days",
                10,
                "A data subject's request to access, correct or delete their data is carried out within 10 days "
                "of its receipt (calendar days; the brand acknowledges it within 2 working days).",
                _VN_PDP,
                _VN_PDP_URL,
            ),
        ),
    ),
    MarketCode.PH: Market(
        MarketCode.PH,
        (
            Rule("currency", "PHP", "Prize values are announced in Philippine pesos.", _ISO_4217, _ISO_URL),
            Rule("currency_exponent", 2, "Amounts are in centavos: PHP 1.00 is 100.", _ISO_4217, _ISO_URL),
            Rule("prize_tax_rate_bp", 2000, "Final tax on a prize: 20% (2000 basis points).", _PH_TAX, _PH_TAX_URL),
            Rule(
                "prize_tax_threshold",
                1_000_000,
                "Prizes over PHP 10,000.00 are taxed; a prize of PHP 10,000.00 or less is not withheld on.",
                _PH_TAX,
                _PH_TAX_URL,
            ),
            Rule("prize_tax_base", "whole", "Over the threshold, the whole value is taxed.", _PH_TAX, _PH_TAX_URL),
            Rule(
                "id_required_above",
                1_000_000,
                "A winner gives an ID number (TIN or a government ID) to claim a prize worth more than this: the "
                "sponsor withholds the final tax and reports it.",
                _PLATFORM + " Set at the prize tax threshold.",
            ),
            Rule(
                "claim_days_min",
                60,
                "A prize is demandable for at least 60 days from the winner's notification.",
                _PH_DTI + ": the mechanics state the claim period, not less than sixty (60) days.",
                _PH_DTI_URL,
            ),
            Rule("claim_days_default", 60, "A prize line's claim window when the brand sets none.", _PLATFORM),
            Rule("claim_days_max", 365, "A claim window is at most this many days.", _PLATFORM),
            Rule(
                "report_deadline_days",
                0,
                "The list of winners, their addresses and prizes goes to the DTI (FDA for food, drugs and "
                "cosmetics) immediately after the winners are determined.",
                _PH_DTI + ": a condition of the sales promotion permit as DTI-FTEB issues it.",
                "https://samgyupsalamat.ph/terms-conditions/",
            ),
            Rule("report_deadline_from", "winners_determined", "The report deadline counts from here.", _PH_DTI),
            Rule(
                "unawarded_state_share_bp",
                0,
                "No share goes to the state; a prize not claimed within the claim period is dealt with as the "
                "approved mechanics say, with the DTI's prior approval.",
                _PH_DTI + "; the disposal of unclaimed prizes is not checked here against the rule's text.",
                _PH_DTI_URL,
            ),
            Rule(
                "breach_notice_hours",
                72,
                "A breach that must be notified is notified to the National Privacy Commission and to the shoppers "
                "affected within this many hours of knowing of it; the brand notifies, told by the platform in time "
                "for it (docs/operations.md).",
                _PH_NPC_BREACH,
                _PH_NPC_BREACH_URL,
            ),
            Rule(
                "delivery_months_max",
                24,
                "A gift's or prize's delivery details are kept at most this many months after it was shipped, "
                "cancelled or closed: long enough for a return or a complaint, no longer.",
                _PH_DPA,
                _PH_DPA_URL,
            ),
            Rule(
                "prize_record_months_min",
                13,
                "A closed win's details (delivery and ID number) are kept at least this many months: a win closed "
                "in January is still in the return of final taxes withheld filed by 31 January the year after.",
                _PH_TAX_RECORDS,
                _PH_TAX_URL,
            ),
            Rule(
                "prize_record_months_max",
                120,
                "A closed win's details are kept at most this many months, the longest the tax code keeps books.",
                _PH_BOOKS,
                _PH_BOOKS_URL,
            ),
            Rule(
                "subject_request_days",
                30,
                "A data subject's request to access, correct or delete their data is carried out within 30 days "
                "of its receipt (the law allows 30 working days; calendar days are counted).",
                _PH_DPA,
                _PH_DPA_URL,
            ),
        ),
    ),
}


def market(code: str) -> Market:
    """The market of a code (VN or PH); KeyError for any other."""
    return MARKETS[MarketCode(code)]


def claim_days_bounds(code: str) -> tuple[int, int, int]:
    """A market's (least, default, most) claim window in days."""
    rules = market(code)
    return rules.number("claim_days_min"), rules.number("claim_days_default"), rules.number("claim_days_max")


RETENTION_RULES: dict[str, tuple[str, str]] = {
    "delivery_months": ("", "delivery_months_max"),
    "prize_record_months": ("prize_record_months_min", "prize_record_months_max"),
}
"""Each retention setting of a brand (domain/retention.py) and the rows bounding it: (least, most); "" none."""


def retention_bounds(setting: str) -> tuple[int | None, int | None]:
    """The least and most months a retention setting may be, over every market (a brand's setting holds in all
    the markets it may run campaigns in: the longest least, the shortest most); None where no law bounds it."""
    least_row, most_row = RETENTION_RULES[setting]
    least = max(m.number(least_row) for m in MARKETS.values()) if least_row else None
    most = min(m.number(most_row) for m in MARKETS.values()) if most_row else None
    return least, most


def subject_request_days(code: str | None) -> int:
    """Days a market's law allows to carry out a data subject's request; with no market named, the
    shortest of them all (a brand that does not say where the shopper is meets every market's deadline)."""
    if code is None:
        return min(m.number("subject_request_days") for m in MARKETS.values())
    return market(code).number("subject_request_days")


def tax_on(code: str, unit_value_minor: int) -> tuple[int, int]:
    """(taxable, withheld) of one prize of this value, in the market's minor units.

    Exact integer arithmetic; the withheld amount is rounded half up to the minor unit.
    """
    if unit_value_minor < 0:
        raise ValueError("a prize value is not negative")
    rules = market(code)
    threshold = rules.number("prize_tax_threshold")
    if unit_value_minor <= threshold:
        return 0, 0
    taxable = unit_value_minor - threshold if rules.value("prize_tax_base") == "excess" else unit_value_minor
    return taxable, (taxable * rules.number("prize_tax_rate_bp") + 5_000) // 10_000


def format_amount(code: str, minor: int) -> str:
    """An amount in a market's currency for people: `VND 15,000,000`, `PHP 10,000.00`."""
    rules = market(code)
    exponent = rules.exponent
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**exponent)
    text = f"{whole:,}" + (f".{part:0{exponent}d}" if exponent else "")
    return f"{rules.currency} {sign}{text}"
