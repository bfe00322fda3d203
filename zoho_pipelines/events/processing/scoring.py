"""Lead scoring: a score from 0 to 100 and a reason a salesperson can read.

The rule-based scorer is the default because it needs nothing (no AWS account, no model access)
and is deterministic, so a repeated qualification writes nothing new. Every score says what
produced it (`source` "rules" or "claude", the model id, the prompt or rules version), and what
it cost in tokens (none for the rules). Its rules use Zoho's
standard Lead fields (and `Budget__c` / `Demo_Attended__c` where an org has them); absent fields
simply score nothing. A scorer names the fields it reads, so the job fetches only those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol

MAX_REASON_CHARS = 2_000
RULES_VERSION = "lead-score-rules/1"
_FREE_MAIL = frozenset(
    {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com", "aol.com", "icloud.com", "proton.me"}
)
_SENIOR_TITLES = ("chief", "ceo", "cto", "cfo", "coo", "cio", "vp", "vice president", "founder", "owner")
_MANAGER_TITLES = ("director", "head", "manager", "lead", "buyer")


class ScoringError(RuntimeError):
    """One lead could not be scored (the model refused, answered nonsense, or was unreachable)."""


@dataclass(frozen=True, slots=True)
class LeadScore:
    score: int
    reason: str
    source: Literal["claude", "rules"] = "rules"
    model_id: str | None = None
    prompt_version: str = RULES_VERSION
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def producer(self) -> str:
        """e.g. "claude anthropic.claude-3-5-haiku-20241022-v1:0 lead-score/1", "rules lead-score-rules/1"."""
        return " ".join(part for part in (self.source, self.model_id, self.prompt_version) if part)

    def __post_init__(self) -> None:
        if not 0 <= self.score <= 100:
            raise ValueError("a lead score lies between 0 and 100")


class LeadScorer(Protocol):
    fields: tuple[str, ...]
    """The Lead fields `score` reads."""

    def score(self, lead: Mapping[str, Any]) -> LeadScore: ...


@dataclass(frozen=True, slots=True)
class _Rule:
    label: str
    points: Callable[[Mapping[str, Any]], int]


def _number(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _tiers(field: str, tiers: tuple[tuple[int, int], ...]) -> Callable[[Mapping[str, Any]], int]:
    """Points of the highest tier whose threshold the field's number reaches."""

    def points(lead: Mapping[str, Any]) -> int:
        number = _number(lead.get(field))
        if number is None:
            return 0
        return next((award for threshold, award in tiers if number >= threshold), 0)

    return points


def _choice(field: str, awards: Mapping[str, int]) -> Callable[[Mapping[str, Any]], int]:
    return lambda lead: awards.get(str(lead.get(field) or ""), 0)


def _title(lead: Mapping[str, Any]) -> int:
    title = str(lead.get("Designation") or "").lower()
    if any(word in title for word in _SENIOR_TITLES):
        return 12
    return 5 if any(word in title for word in _MANAGER_TITLES) else 0


def _email(lead: Mapping[str, Any]) -> int:
    email = str(lead.get("Email") or "")
    if "@" not in email:
        return -10
    return 0 if email.rsplit("@", 1)[1].lower() in _FREE_MAIL else 8


def _reachable(lead: Mapping[str, Any]) -> int:
    return 5 if lead.get("Phone") or lead.get("Mobile") else 0


def _flag(field: str, award: int) -> Callable[[Mapping[str, Any]], int]:
    return lambda lead: award if lead.get(field) is True else 0


_RULES: tuple[_Rule, ...] = (
    _Rule("referral or partner source", _choice("Lead_Source", dict.fromkeys(
        ("Employee Referral", "External Referral", "Partner", "Seminar Partner"), 15
    ) | dict.fromkeys(("Web Download", "Online Store", "Chat", "Trade Show"), 5) | {"Cold Call": -5})),
    _Rule("annual revenue", _tiers("Annual_Revenue", ((50_000_000, 20), (5_000_000, 12), (500_000, 5)))),
    _Rule("company size", _tiers("No_of_Employees", ((1_000, 15), (100, 8), (10, 3)))),
    _Rule("seniority", _title),
    _Rule("business email", _email),
    _Rule("phone on file", _reachable),
    _Rule("budget", _tiers("Budget__c", ((100_000, 10), (10_000, 5)))),
    _Rule("attended a demo", _flag("Demo_Attended__c", 10)),
    _Rule("rating", _choice("Rating", {
        "Active": 10, "Acquired": 5, "Market Failed": -15, "Project Cancelled": -15, "Shut Down": -25,
    })),
    _Rule("lead status", _choice("Lead_Status", {
        "Pre-Qualified": 10, "Contacted": 3, "Junk Lead": -40, "Not Qualified": -30, "Lost Lead": -30,
    })),
    _Rule("opted out of email", _flag("Email_Opt_Out", -10)),
)  # fmt: skip

BASE_SCORE = 20


class RuleBasedLeadScorer:
    """Points per rule on top of a base, clamped to 0-100; the reason lists what counted."""

    fields: tuple[str, ...] = (
        "Lead_Source",
        "Annual_Revenue",
        "No_of_Employees",
        "Designation",
        "Email",
        "Phone",
        "Mobile",
        "Budget__c",
        "Demo_Attended__c",
        "Rating",
        "Lead_Status",
        "Email_Opt_Out",
    )

    def score(self, lead: Mapping[str, Any]) -> LeadScore:
        awarded = [(rule.label, rule.points(lead)) for rule in _RULES]
        counted = sorted((item for item in awarded if item[1]), key=lambda item: -abs(item[1]))
        score = max(0, min(100, BASE_SCORE + sum(points for _, points in counted)))
        factors = ", ".join(f"{label} ({points:+d})" for label, points in counted) or "no signals"
        return LeadScore(score, f"Rule-based score {score}: base {BASE_SCORE}; {factors}."[:MAX_REASON_CHARS])
