"""Why a deal cannot be onboarded as it stands: failures a retry cannot fix.

They keep their own class names on purpose: the state machine retries only `ZohoAPIError`, so
these go straight to its failure report, where an operator fixes the cause and redrives.
"""

from __future__ import annotations


class OnboardingError(Exception):
    """A deal that cannot be onboarded as it stands; retrying will not change that."""


class DealNotQualified(OnboardingError):
    """The deal is not Closed Won, has no account, or has a malformed amount."""


class CustomerNameTaken(OnboardingError):
    """A Books contact already holds the account's name but belongs to another CRM account
    (Books keeps contact names unique, so the customer cannot be created under it)."""
