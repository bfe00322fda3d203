"""Alarms read from logs (failed Dagster runs, rejected webhooks, Zoho 429s) and the lake's staging
lifecycle, in the synthesized templates; the run-failure pattern against a real Dagster log line."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pytest
from zoho_infra.dagster import RUN_FAILURE_EVENT
from zoho_infra.data import LAKE_PREFIX
from zoho_infra.observability import ZOHO_RATE_LIMITED_METRIC

from zoho_pipelines_tests.cdk.conftest import Synthesized


def _filters(synthesized: Synthesized, stack: str) -> dict[str, dict[str, Any]]:
    filters = synthesized.templates[stack].find_resources("AWS::Logs::MetricFilter")
    return {
        item["Properties"]["MetricTransformations"][0]["MetricName"]: item["Properties"]
        for item in filters.values()
    }


def _alarmed_metrics(synthesized: Synthesized, stack: str) -> set[str]:
    alarms = synthesized.templates[stack].find_resources("AWS::CloudWatch::Alarm").values()
    for alarm in alarms:
        assert len(alarm["Properties"]["AlarmActions"]) == 1  # the one alarm topic
    return {alarm["Properties"].get("MetricName", "") for alarm in alarms}


def test_failed_dagster_runs_and_zoho_rate_limits_alarm(synthesized: Synthesized) -> None:
    filters = _filters(synthesized, "dagster")
    assert filters["DagsterRunFailures"]["FilterPattern"] == f'"{RUN_FAILURE_EVENT}"'
    assert "429" in filters[ZOHO_RATE_LIMITED_METRIC]["FilterPattern"]
    assert {"DagsterRunFailures", ZOHO_RATE_LIMITED_METRIC} <= _alarmed_metrics(synthesized, "dagster")
    assert ZOHO_RATE_LIMITED_METRIC in _alarmed_metrics(synthesized, "onboarding")
    assert len(_filters(synthesized, "onboarding")) == 1  # by name; one filter per step function:
    onboarding = synthesized.templates["onboarding"].find_resources("AWS::Logs::MetricFilter")
    assert len(onboarding) == 5


def test_rejected_webhook_spikes_alarm_from_the_access_logs(synthesized: Synthesized) -> None:
    rejected = _filters(synthesized, "ingress")["RejectedWebhooks"]
    assert rejected["FilterPattern"] == '{ $.status = "401" }'
    assert "AccessLogs" in json.dumps(rejected["LogGroupName"])
    assert "RejectedWebhooks" in _alarmed_metrics(synthesized, "ingress")


def test_the_run_failure_pattern_matches_what_a_failing_run_logs(capfd: pytest.CaptureFixture[str]) -> None:
    @dg.op
    def fails() -> None:
        raise RuntimeError("boom")

    @dg.job
    def failing_job() -> None:
        fails()

    assert not failing_job.execute_in_process(raise_on_error=False).success
    lines = capfd.readouterr().err.splitlines()
    assert [line for line in lines if RUN_FAILURE_EVENT in line and "failing_job" in line]


def test_every_staging_prefix_of_the_lake_expires(synthesized: Synthesized) -> None:
    (bucket,) = [
        item["Properties"]
        for item in synthesized.templates["data"].find_resources("AWS::S3::Bucket").values()
        if "LifecycleConfiguration" in item["Properties"]
    ]
    rules = {rule.get("Prefix"): rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    for prefix in (f"{LAKE_PREFIX}_staging/", f"{LAKE_PREFIX}_event_staging/"):
        assert rules[prefix]["ExpirationInDays"] <= 7, prefix
        assert rules[prefix]["Status"] == "Enabled"
