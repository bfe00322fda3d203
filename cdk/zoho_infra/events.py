"""The event bus and its rules, generated from the package's one routing definition.

`zoho_pipelines.events.routing.ROUTES` is the single source of truth: the local router evaluates
the same patterns on a laptop, and here every route becomes one EventBridge rule with its pattern
copied verbatim. Queue targets get a queue with a dead-letter queue each (messages a consumer
keeps failing on end there, and so do events EventBridge could not deliver); state machine targets
are handed in by the stack that owns the state machine. Every DLQ alarms on its first message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from zoho_infra.nag import acknowledge
from zoho_infra.observability import alarm_when
from zoho_pipelines.events.ingress import DEFAULT_EVENT_BUS
from zoho_pipelines.events.routing import ROUTES, Route, Target, TargetKind

MAX_RECEIVES = 5  # a message a consumer failed on this often is poison: park it in the DLQ
DELIVERY_RETRIES = 8
DEFAULT_VISIBILITY_TIMEOUT = Duration.minutes(5)
DELIVERY_MAX_AGE = Duration.hours(24)


def set_event_pattern(rule: events.Rule, route: Route) -> None:
    """Give `rule` the route's pattern verbatim. CDK's typed EventPattern only takes plain strings
    where EventBridge also takes filter objects ({"prefix": ...}, {"anything-but": ...}), so the
    pattern is written straight into the CloudFormation property."""
    cfn_rule = rule.node.default_child
    assert isinstance(cfn_rule, events.CfnRule)
    cfn_rule.add_property_override("EventPattern", json.loads(route.pattern_json()))


class MonitoredQueue(Construct):
    """A work queue and its DLQ, TLS-only and encrypted, with an alarm on the DLQ's depth."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        topic: sns.ITopic,
        visibility_timeout: Duration = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=f"{name}-dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVES
            ),
        )
        self.dlq_alarm = dead_letter_alarm(self, self.dead_letter_queue, topic)


def dead_letter_alarm(scope: Construct, queue: sqs.Queue, topic: sns.ITopic) -> cloudwatch.Alarm:
    return alarm_when(
        scope,
        "DeadLetterAlarm",
        metric=queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5), statistic="Maximum"
        ),
        topic=topic,
        description=f"Messages are waiting in the dead-letter queue {queue.node.path}: inspect and redrive.",
    )


class EventRouting(Construct):
    """The bus, one rule per route, the queues behind the queue routes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        state_machines: Mapping[Target, sfn.IStateMachine],
        routes: tuple[Route, ...] = ROUTES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=DEFAULT_EVENT_BUS)
        self.bus.archive(
            "Archive",
            description="Seven days of Zoho events, for replay after a consumer bug",
            event_pattern=events.EventPattern(source=events.Match.prefix("zoho.")),
            retention=Duration.days(7),
        )
        self.queues: dict[Target, MonitoredQueue] = {}
        for target in dict.fromkeys(
            route.target for route in routes if route.target_kind is TargetKind.QUEUE
        ):
            self.queues[target] = MonitoredQueue(self, _pascal(target), name=f"zoho-{target}", topic=topic)

        # Events EventBridge could not hand to a state machine (throttling, missing permission).
        self.delivery_dead_letter_queue = sqs.Queue(
            self,
            "DeliveryDeadLetterQueue",
            queue_name="zoho-event-delivery-dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        dead_letter_alarm(self.delivery_dead_letter_queue, self.delivery_dead_letter_queue, topic)
        acknowledge(
            self.delivery_dead_letter_queue,
            "AwsSolutions-SQS3",
            "This is itself a dead-letter queue: the DeadLetterConfig of the onboarding rule's target, "
            "which the rule expresses instead of a queue RedrivePolicy.",
        )

        self.rules: dict[str, events.Rule] = {}
        for route in routes:
            rule = events.Rule(
                self,
                f"{_pascal(route.name)}Rule",
                event_bus=self.bus,
                rule_name=f"zoho-{route.name}",
                description=route.description,
                # Replaced by the route's own pattern just below; CDK requires one up front.
                event_pattern=events.EventPattern(detail_type=[route.name]),
                targets=[self._target(route, state_machines)],
            )
            set_event_pattern(rule, route)
            self.rules[route.name] = rule

    def _target(self, route: Route, state_machines: Mapping[Target, sfn.IStateMachine]) -> events.IRuleTarget:
        if route.target_kind is TargetKind.QUEUE:
            monitored = self.queues[route.target]
            return targets.SqsQueue(
                monitored.queue,
                dead_letter_queue=monitored.dead_letter_queue,
                retry_attempts=DELIVERY_RETRIES,
                max_event_age=DELIVERY_MAX_AGE,
            )
        if route.target not in state_machines:
            raise KeyError(f"route {route.name} targets state machine {route.target}, which was not given")
        return targets.SfnStateMachine(
            state_machines[route.target],
            # The state machine works on the normalised event, not on EventBridge's envelope.
            input=events.RuleTargetInput.from_event_path("$.detail"),
            dead_letter_queue=self.delivery_dead_letter_queue,
            retry_attempts=DELIVERY_RETRIES,
            max_event_age=DELIVERY_MAX_AGE,
        )


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
