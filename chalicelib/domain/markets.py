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
