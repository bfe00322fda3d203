"""Checks made once before runs start, so a wrong setting fails as one line and not as N failed runs."""

from __future__ import annotations

from zoho_pipelines.catalog import ModuleSpec, check_crm_modules, selected_modules
from zoho_pipelines.settings import Settings
from zoho_pipelines.zoho.client import ZohoClient


def checked_modules(settings: Settings) -> tuple[ModuleSpec, ...]:
    """The modules ZOHO_MODULES selects, the CRM ones confirmed by the org's module list.

    One GET /crm/v8/settings/modules here, by the command that launches runs, rather than in the
    code location: that loads in every Dagster process and would mint a token in each.
    """
    specs = selected_modules()
    if any(spec.app == "crm" for spec in specs):
        with ZohoClient.from_settings(settings) as client:
            check_crm_modules(specs, client.crm.modules())
    return specs
