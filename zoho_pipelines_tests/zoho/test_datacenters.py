import pytest

from zoho_pipelines.settings import DataCenter
from zoho_pipelines.zoho.datacenters import endpoints

EXPECTED = {
    "com": ("https://accounts.zoho.com", "https://www.zohoapis.com", "https://projectsapi.zoho.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu", "https://projectsapi.zoho.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in", "https://projectsapi.zoho.in"),
    "com.au": (
        "https://accounts.zoho.com.au",
        "https://www.zohoapis.com.au",
        "https://projectsapi.zoho.com.au",
    ),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp", "https://projectsapi.zoho.jp"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca", "https://projectsapi.zohocloud.ca"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa", "https://projectsapi.zoho.sa"),
    "com.cn": (
        "https://accounts.zoho.com.cn",
        "https://www.zohoapis.com.cn",
        "https://projectsapi.zoho.com.cn",
    ),
}


def test_every_data_center_is_covered():
    assert set(EXPECTED) == {dc.value for dc in DataCenter}


@pytest.mark.parametrize("dc", sorted(EXPECTED))
def test_data_center_endpoints(dc):
    found = endpoints(dc)
    assert (found.accounts_url, found.api_url, found.projects_url) == EXPECTED[dc]


def test_overrides_win_and_projects_follow_the_api_override():
    found = endpoints(DataCenter.EU, accounts_url="http://127.0.0.1:9/", api_url="http://127.0.0.1:9")
    assert (found.accounts_url, found.api_url, found.projects_url) == (
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
    )


def test_accounts_override_alone_keeps_the_dc_api():
    found = endpoints("in", accounts_url="http://127.0.0.1:9")
    assert (found.api_url, found.projects_url) == EXPECTED["in"][1:]


def test_unknown_data_center_is_refused():
    with pytest.raises(ValueError, match=r"com\.xx"):
        endpoints("com.xx")
