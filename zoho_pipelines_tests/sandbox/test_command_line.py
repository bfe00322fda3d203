"""The sandbox's flags explain themselves: `--help` gives each SandboxConfig field a line of help."""

from __future__ import annotations

import dataclasses

import pytest

from zoho_pipelines.sandbox.__main__ import main as sandbox_main
from zoho_pipelines.sandbox.config import SandboxConfig

FIELDS = dataclasses.fields(SandboxConfig)


@pytest.mark.parametrize("item", FIELDS, ids=[item.name for item in FIELDS])
def test_every_sandbox_setting_has_help(item: dataclasses.Field[object]) -> None:
    """A field added without help fails here, before anyone meets a blank flag in --help."""
    assert item.metadata.get("help", "").strip(), f"SandboxConfig.{item.name} needs metadata={{'help': ...}}"


def test_sandbox_help_prints_every_flag_with_its_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # argparse would wrap help at hyphens (--token-mint-|window-s)
    with pytest.raises(SystemExit) as exited:
        sandbox_main(["--help"], prog="zoho-pipelines sandbox")
    assert exited.value.code == 0
    printed = " ".join(capsys.readouterr().out.split())
    for item in FIELDS:
        flag = "--" + item.name.replace("_", "-")
        help_text = " ".join(item.metadata["help"].split())
        assert f"{flag} {item.name.upper()}" in printed
        assert help_text in printed, f"{flag}: {help_text!r} not in --help"
