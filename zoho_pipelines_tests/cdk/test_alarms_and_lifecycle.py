"""Alarms read from logs (failed Dagster runs, rejected webhooks, Zoho 429s) and from the credits
metric the Zoho client publishes, the lake's staging lifecycle and its CloudTrail data events, in
the synthesized templates; the run-failure pattern against a real Dagster log line."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pytest
from zoho_infra.config import DEFAULT_CREDITS_ALARM_BELOW
from zoho_infra.dagster import RUN_FAILURE_EVENT
from zoho_infra.data import LAKE_PREFIX
from zoho_infra.observability import ZOHO_RATE_LIMITED_METRIC

from zoho_pipelines.zoho.credit_metric import CREDITS_REMAINING_METRIC, METRIC_NAMESPACE
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


def test_zoho_credits_low_alarms_on_the_metric_the_zoho_client_publishes(synthesized: Synthesized) -> None:
    alarms = synthesized.templates["observability"].find_resources("AWS::CloudWatch::Alarm").values()
    (credits,) = [
        a["Properties"] for a in alarms if a["Properties"].get("MetricName") == CREDITS_REMAINING_METRIC
    ]
    assert credits["Namespace"] == METRIC_NAMESPACE
    assert "Dimensions" not in credits  # the client's documents carry none
    assert (credits["Statistic"], credits["Period"]) == ("Minimum", 300)
    assert credits["ComparisonOperator"] == "LessThanThreshold"
    assert credits["Threshold"] == DEFAULT_CREDITS_ALARM_BELOW
    assert credits["TreatMissingData"] == "notBreaching"  # no header: under half the budget used
    assert credits["AlarmActions"] == [
        {"Ref": next(iter(synthesized.templates["observability"].find_resources("AWS::SNS::Topic")))}
    ]


def test_the_trail_records_every_object_read_and_write_in_the_lake(synthesized: Synthesized) -> None:
    (trail,) = synthesized.templates["observability"].find_resources("AWS::CloudTrail::Trail").values()
    (selector,) = trail["Properties"]["EventSelectors"]
    assert selector["ReadWriteType"] == "All"
    assert selector["IncludeManagementEvents"] is True
    (resource,) = selector["DataResources"]
    assert resource["Type"] == "AWS::S3::Object"
    (value,) = resource["Values"]
    rendered = json.dumps(value)
    assert "zoho-pipelines-lake-" in rendered
    assert rendered.endswith('/"]]}')  # every object of the bucket, not one prefix
