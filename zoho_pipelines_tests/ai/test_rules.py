"""The rules that stand in for Claude: the same validated shape, deterministic, from the facts."""

from __future__ import annotations

import pytest

from zoho_pipelines.ai.enrichment import RULES_VERSION, RulesEnricher, deal_facts, region_of, size_band_of


@pytest.mark.parametrize(
    ("employees", "band"),
    [
        (None, "Unknown"),
        (0, "Unknown"),
        (1, "1-10"),
        (10, "1-10"),
        (11, "11-50"),
        (5_000, "1001-5000"),
        (5_001, "5001+"),
    ],
)
def test_size_bands(employees: object, band: str) -> None:
    assert size_band_of(employees) == band


REGIONS = {
    "Germany": "EMEA",
    "Nigeria": "EMEA",
    "USA": "North America",
    "Brazil": "LATAM",
    "India": "India",
    "Australia": "ANZ",
    "Japan": "APAC",
    "Atlantis": "Unknown",
    None: "Unknown",
}


@pytest.mark.parametrize(("country", "region"), REGIONS.items())
def test_regions(country: object, region: str) -> None:
    assert region_of(country) == region


def test_a_large_discounted_deal_from_a_small_account_shows_its_risks() -> None:
    facts = deal_facts(
        {
            "Amount": 250_000.0,
            "Discount__c": 30,
            "Competitors__c": ["HubSpot"],
            "Description": "private notes",
        },
        {"Employees": 12, "Billing_Country": "Ireland", "Phone": "+353 1 555 0100"},
    )
    enrichment = RulesEnricher().enrich(facts)

    assert "Description" not in facts["deal"]  # not on the allow-list
    assert "Phone" not in facts["account"]
    assert (enrichment.source, enrichment.model_id, enrichment.prompt_version) == (
        "rules",
        None,
        RULES_VERSION,
    )
    output = enrichment.output
    assert (output.industry, output.size_band, output.region) == ("Unknown", "11-50", "EMEA")
    assert output.risks == [
        "The deal is large for the account's size: confirm budget and adoption capacity.",
        "High discount (30%): set expectations on renewal pricing early.",
        "Competitors in the deal: HubSpot.",
        "The account's industry is not recorded in CRM.",
    ]
    assert "Assign a dedicated onboarding manager" in output.next_steps
    assert RulesEnricher().enrich(facts) == enrichment  # deterministic
