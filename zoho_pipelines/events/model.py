"""One normalised shape for every Zoho change event, whatever way Zoho delivered it.

Zoho tells us about record changes two ways: Notification API channels (a fixed JSON body with
`server_time`, `module`, `ids`, `affected_fields`, `operation`, `channel_id`, `token`) and workflow
webhooks (JSON or form bodies whose shape the Zoho admin chooses). Downstream code (routing, the
Dagster sensor, the onboarding flow) should see one shape, `ZohoEvent`, and never care which.

Workflow webhook contract (what a Zoho admin configures; JSON or form-encoded):
    module          required  Zoho module API name, e.g. "Deals"
    operation       required  insert|update|delete (create/created, edit/updated, deleted accepted)
    id or ids       required  one id, a JSON list, or a comma-separated string
    app             optional  crm (default), books or projects
    occurred_at     optional  epoch milliseconds or ISO 8601 with a UTC offset
    affected_fields optional  JSON list or comma-separated string
    stage           optional  e.g. "Closed Won"; taken from record["Stage"] when absent
    record          optional  a JSON object (or a JSON string of one): a snapshot of the record
    anything else   kept as `params` (Zoho "custom parameters")

Why `stage` and `record` exist: Notification API payloads carry ids and field names, not
values, so a rule like "Deal reached Closed Won" cannot be decided from them. A workflow webhook
on Deals can send the stage (or the record); the routing patterns match on `detail.stage`.
Snapshots describe one record, so a payload with a snapshot must name exactly one id. Channels
created with `return_affected_field_values` may add `affected_values` (Zoho documents the flag,
not the shape; read leniently as `[{"id": ..., "<Field>": value, ...}]`): a one-record event
takes its entry as the snapshot, so a Stage change seen by a channel can route too.

Deliveries with many ids are split into events of at most `MAX_IDS_PER_EVENT` ids, so that every
event fits one EventBridge entry and one queue message, and consumers get bounded work.

The event id is a sha256 over the identifying fields (never over the receive time or the channel
token), so Zoho's redeliveries of the same change produce the same id and de-duplicate downstream.
What tells two changes of one record apart is the time Zoho gives the change: a channel's
`server_time`, a webhook's `occurred_at`, or the `Modified_Time` of its record snapshot. A bare
webhook (none of those) cannot tell them apart: its id is the same for every later change of the
record, so it carries `time_source=received` and consumers must not drop a repeat of it as a
duplicate once its earlier copy has been acted on (see `events.processing.intake`).

A time more than `MAX_FUTURE_SKEW` ahead of the receive time is clamped to the receive time
(`time_source=clamped`), not refused. Such a time is a misconfigured webhook (a local time sent
as UTC) or a forged one, but the notification itself is still true: the record did change, and
refusing it would lose that change for good (Zoho gives up on a 4xx). Clamped, it still names the
change (the id keeps the raw time) while no consumer can be told that something happens in the
future: a tombstone dated next year would otherwise outrank every later update of the record.
Standard library only: this module ships in the ingress Lambda.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1
DETAIL_TYPE = "Zoho Record Change"
SOURCE_PREFIX = "zoho."
APPS = frozenset({"crm", "books", "projects"})
MAX_IDS_PER_EVENT = 100

_MODULE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
_RECORD_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CHANNEL_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_EVENT_ID = re.compile(r"[0-9a-f]{64}")
_MAX_FIELD_NAME = 200
_MAX_EPOCH_MS = 32_503_680_000_000  # year 3000: anything later is a unit mistake, not a time
MAX_FUTURE_SKEW = timedelta(minutes=5)
"""How far ahead of the receive time a change time is believed (clock skew between Zoho and us)."""


class MalformedEventError(ValueError):
    """A payload that cannot be normalised.

    Messages name the field and what was expected, never the offending value: the value may be
    attacker-controlled or secret, and the text ends up in HTTP answers and logs.
    """


class Operation(StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


class Channel(StrEnum):
    """How Zoho delivered the change."""

    NOTIFICATION_API = "notification_api"
    WORKFLOW_WEBHOOK = "workflow_webhook"


class TimeSource(StrEnum):
    """Where `occurred_at` comes from, which says whether the event id names one change."""

    ZOHO = "zoho"
    """Zoho's time of the change: the id names this change alone."""
    RECEIVED = "received"
    """No time in the payload: the receive time; the id is the same for every change of the record."""
    CLAMPED = "clamped"
    """Zoho's time lay too far in the future: the receive time; the id still names the change."""


_OPERATIONS = frozenset(operation.value for operation in Operation)
_CHANNELS = frozenset(channel.value for channel in Channel)
_TIME_SOURCES = frozenset(source.value for source in TimeSource)
_OPERATION_ALIASES = {
    "insert": Operation.INSERT,
    "create": Operation.INSERT,
    "created": Operation.INSERT,
    "update": Operation.UPDATE,
    "updated": Operation.UPDATE,
    "edit": Operation.UPDATE,
    "delete": Operation.DELETE,
    "deleted": Operation.DELETE,
}

_WEBHOOK_KEYS = frozenset(
    {"app", "module", "operation", "id", "ids", "occurred_at", "affected_fields", "stage", "record"}
)


@dataclass(frozen=True, slots=True)
class ZohoEvent:
    """A change to one or more records of one Zoho module."""

    event_id: str
    app: str
    module: str
    operation: Operation
    record_ids: tuple[str, ...]
    occurred_at: datetime
    received_at: datetime
    channel: Channel
    affected_fields: tuple[str, ...] = ()
    channel_id: str | None = None
    stage: str | None = None
    record: Mapping[str, Any] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    time_source: TimeSource = TimeSource.ZOHO

    @property
    def identifies_change(self) -> bool:
        """Whether the event id names one change (False for a bare webhook: see the module doc)."""
        return self.time_source is not TimeSource.RECEIVED

    @property
    def source(self) -> str:
        """The EventBridge `source` of this event, e.g. "zoho.crm"."""
        return SOURCE_PREFIX + self.app

    def to_dict(self) -> dict[str, Any]:
        """The queue/EventBridge `detail` shape. Absent optionals are omitted, not null, so that
        EventBridge `exists` patterns mean the same thing locally and in AWS."""
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "app": self.app,
            "module": self.module,
            "operation": self.operation.value,
            "record_ids": list(self.record_ids),
            "affected_fields": list(self.affected_fields),
            "occurred_at": format_timestamp(self.occurred_at),
            "received_at": format_timestamp(self.received_at),
            "channel": self.channel.value,
            "time_source": self.time_source.value,
            "params": dict(self.params),
        }
        if self.channel_id is not None:
            data["channel_id"] = self.channel_id
        if self.stage is not None:
            data["stage"] = self.stage
        if self.record is not None:
            data["record"] = dict(self.record)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ZohoEvent:
        """Rebuild an event from `to_dict` output (a queue message), checking every field."""
        if not isinstance(data, Mapping):
            raise MalformedEventError("an event must be a JSON object")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise MalformedEventError(f"schema_version must be {SCHEMA_VERSION}")
        event_id = _required(data, "event_id")
        if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
            raise MalformedEventError("event_id must be 64 lower-case hex digits")
        channel_id = data.get("channel_id")
        stage = data.get("stage")
        occurred_at = _timestamp(_required(data, "occurred_at"), "occurred_at")
        received_at = _timestamp(_required(data, "received_at"), "received_at")
        channel = _channel(_required(data, "channel"))
        return cls(
            event_id=event_id,
            app=_app(_required(data, "app")),
            module=_module(_required(data, "module")),
            operation=_operation(_required(data, "operation"), aliases=False),
            record_ids=_record_ids(_required(data, "record_ids")),
            occurred_at=occurred_at,
            received_at=received_at,
            channel=channel,
            affected_fields=_field_names(data.get("affected_fields", []), "affected_fields"),
            channel_id=None if channel_id is None else _channel_id(channel_id),
            stage=None if stage is None else _text(stage, "stage"),
            record=_optional_object(data.get("record"), "record"),
            params=_object(data.get("params", {}), "params"),
            time_source=_time_source(data.get("time_source"), channel, occurred_at, received_at),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ZohoEvent:
        return cls.from_dict(load_json_object(text))


def event_from_message(body: str | bytes) -> ZohoEvent:
    """Read a queue message: an EventBridge envelope (what a rule delivers to SQS, `detail`
    holding the event) or a bare event (what a direct send holds)."""
    data = load_json_object(body)
    if "detail" in data and "detail-type" in data:
        return ZohoEvent.from_dict(_object(data["detail"], "detail"))
    return ZohoEvent.from_dict(data)


def is_notification_payload(payload: Mapping[str, Any]) -> bool:
    """Notification API bodies are recognised by the fields only Zoho's channels send."""
    return "channel_id" in payload and "server_time" in payload


def parse_notification(payload: Mapping[str, Any], *, received_at: datetime) -> list[ZohoEvent]:
    """Normalise a Notification API delivery (the `token` is checked by the caller, not kept)."""
    channel_id = _channel_id(_required(payload, "channel_id"))
    server_time = _epoch_ms(_required(payload, "server_time"), "server_time")
    module = _module(_required(payload, "module"))
    operation = _operation(_required(payload, "operation"), aliases=False)
    record_ids = _record_ids(_required(payload, "ids"))
    common_fields, fields_by_id = _notification_affected_fields(payload.get("affected_fields"))
    snapshots = _affected_values(payload.get("affected_values"))
    params = _object(payload.get("query_params") or {}, "query_params")
    resource_uri = payload.get("resource_uri")
    if resource_uri is not None and not isinstance(resource_uri, str):
        raise MalformedEventError("resource_uri must be a string")
    token = payload.get("token")
    if token is not None and not isinstance(token, str):
        raise MalformedEventError("token must be a string")

    events = []
    for chunk in _chunks(record_ids, MAX_IDS_PER_EVENT):
        affected = set(common_fields)
        for record_id in chunk:
            affected.update(fields_by_id.get(record_id, ()))
        record = snapshots.get(chunk[0]) if len(chunk) == 1 else None
        stage = record.get("Stage") if record is not None else None
        events.append(
            _build(
                app="crm",
                module=module,
                operation=operation,
                record_ids=chunk,
                affected_fields=tuple(sorted(affected)),
                zoho_time=server_time,
                received_at=received_at,
                channel=Channel.NOTIFICATION_API,
                channel_id=channel_id,
                stage=stage if isinstance(stage, str) and 0 < len(stage) <= 1000 else None,
                record=record,
                params=params,
            )
        )
    return events


def parse_webhook(fields: Mapping[str, Any], *, received_at: datetime) -> list[ZohoEvent]:
    """Normalise a workflow webhook (see the module docstring for the accepted shape)."""
    app = _app(fields.get("app", "crm"))
    module = _module(_required(fields, "module"))
    operation = _operation(_required(fields, "operation"), aliases=True)
    record_ids = _webhook_record_ids(fields)
    record = _webhook_record(fields.get("record"))
    stage = fields.get("stage")
    if stage is None and record is not None and isinstance(record.get("Stage"), str):
        stage = record["Stage"]
    stage = None if stage is None else _text(stage, "stage")
    if (record is not None or stage is not None) and len(record_ids) != 1:
        raise MalformedEventError("record and stage describe one record: send exactly one id")
    raw_time = fields.get("occurred_at")
    zoho_time = _record_modified_time(record) if raw_time is None else _timestamp(raw_time, "occurred_at")
    affected = _field_names(_split_list(fields.get("affected_fields", [])), "affected_fields")
    params = {key: value for key, value in fields.items() if key not in _WEBHOOK_KEYS}
    for key in params:
        if not isinstance(key, str) or not key or len(key) > _MAX_FIELD_NAME:
            raise MalformedEventError("custom parameter names must be 1-200 character strings")

    return [
        _build(
            app=app,
            module=module,
            operation=operation,
            record_ids=chunk,
            affected_fields=tuple(sorted(set(affected))),
            zoho_time=zoho_time,
            received_at=received_at,
            channel=Channel.WORKFLOW_WEBHOOK,
            channel_id=None,
            stage=stage,
            record=record,
            params=params,
        )
        for chunk in _chunks(record_ids, MAX_IDS_PER_EVENT)
    ]


def load_json_object(text: str | bytes) -> dict[str, Any]:
    """Strict JSON: an object at the top, no NaN/Infinity (EventBridge would reject them)."""

    def reject_constant(name: str) -> None:
        raise MalformedEventError(f"JSON constant {name} is not allowed")

    try:
        data = json.loads(text, parse_constant=reject_constant)
    except MalformedEventError:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedEventError("body is not valid UTF-8 JSON") from exc
    if not isinstance(data, dict):
        raise MalformedEventError("body must be a JSON object")
    try:
        # JSON escapes can smuggle in lone surrogates, which no UTF-8 consumer downstream accepts.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEventError("body holds text that is not valid Unicode") from None
    return data


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a `Z`, the form EventBridge and Zoho both read."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _build(
    *,
    app: str,
    module: str,
    operation: Operation,
    record_ids: tuple[str, ...],
    affected_fields: tuple[str, ...],
    zoho_time: datetime | None,
    received_at: datetime,
    channel: Channel,
    channel_id: str | None,
    stage: str | None,
    record: Mapping[str, Any] | None,
    params: Mapping[str, Any],
) -> ZohoEvent:
    occurred_at, time_source = placed_in_time(zoho_time, received_at)
    identity = {
        "v": SCHEMA_VERSION,
        "channel": channel.value,
        "channel_id": channel_id,
        "app": app,
        "module": module,
        "operation": operation.value,
        "record_ids": sorted(record_ids),
        # A webhook without a time gets the receive time, which differs on each redelivery,
        # so only a time the payload itself carries may take part in the identity (unclamped:
        # a redelivery must not get another id because it arrived later).
        "occurred_at": None if zoho_time is None else format_timestamp(zoho_time),
        "affected_fields": sorted(affected_fields),
        "stage": stage,
        "record": record,
        "params": params,
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return ZohoEvent(
        event_id=hashlib.sha256(canonical.encode("ascii")).hexdigest(),
        app=app,
        module=module,
        operation=operation,
        record_ids=record_ids,
        occurred_at=occurred_at,
        received_at=received_at,
        channel=channel,
        affected_fields=affected_fields,
        channel_id=channel_id,
        stage=stage,
        record=record,
        params=params,
        time_source=time_source,
    )


def placed_in_time(zoho_time: datetime | None, received_at: datetime) -> tuple[datetime, TimeSource]:
    """The event's `occurred_at` and where it comes from: Zoho's time when the payload has one
    that is not beyond `MAX_FUTURE_SKEW` ahead of the receive time, else the receive time."""
    if zoho_time is None:
        return received_at, TimeSource.RECEIVED
    if zoho_time > received_at + MAX_FUTURE_SKEW:
        return received_at, TimeSource.CLAMPED
    return zoho_time, TimeSource.ZOHO


def _chunks(items: tuple[str, ...], size: int) -> Iterator[tuple[str, ...]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _required(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    if value is None or value == "":
        raise MalformedEventError(f"missing field {key!r}")
    return value


def _text(value: Any, name: str, max_length: int = 1000) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise MalformedEventError(f"{name} must be a non-empty string of at most {max_length} characters")
    return value


def _app(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in APPS:
        raise MalformedEventError("app must be one of " + ", ".join(sorted(APPS)))
    return value.lower()


def _module(value: Any) -> str:
    if not isinstance(value, str) or not _MODULE_NAME.fullmatch(value):
        raise MalformedEventError("module must be a Zoho module API name (letters, digits, _)")
    return value


def _operation(value: Any, *, aliases: bool) -> Operation:
    if isinstance(value, str):
        key = value.strip().lower()
        if aliases and key in _OPERATION_ALIASES:
            return _OPERATION_ALIASES[key]
        if key in _OPERATIONS:
            return Operation(key)
    raise MalformedEventError("operation must be insert, update or delete")


def _channel(value: Any) -> Channel:
    if isinstance(value, str) and value in _CHANNELS:
        return Channel(value)
    raise MalformedEventError("channel must be notification_api or workflow_webhook")


def _time_source(value: Any, channel: Channel, occurred_at: datetime, received_at: datetime) -> TimeSource:
    """The stored time source; messages queued before it existed are judged the way they were
    made: a webhook whose time equals its receive time carried none."""
    if value is None:
        bare = channel is Channel.WORKFLOW_WEBHOOK and occurred_at == received_at
        return TimeSource.RECEIVED if bare else TimeSource.ZOHO
    if isinstance(value, str) and value in _TIME_SOURCES:
        return TimeSource(value)
    raise MalformedEventError("time_source must be zoho, received or clamped")


def _channel_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _CHANNEL_ID.fullmatch(value):
        raise MalformedEventError("channel_id must be a number or a short identifier")
    return value


def _record_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _RECORD_ID.fullmatch(value):
        raise MalformedEventError("record ids must be numbers or short identifiers")
    return value


def _record_ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise MalformedEventError("ids must be a non-empty list")
    # Order of first appearance, without repeats: a redelivery lists the same ids the same way.
    return tuple(dict.fromkeys(_record_id(item) for item in value))


def _webhook_record_ids(fields: Mapping[str, Any]) -> tuple[str, ...]:
    single, many = fields.get("id"), fields.get("ids")
    collected: list[Any] = []
    if single not in (None, ""):
        collected.extend(single if isinstance(single, list) else [single])
    if many not in (None, ""):
        collected.extend(_split_list(many))
    if not collected:
        raise MalformedEventError("missing field 'id' (or 'ids')")
    return _record_ids(collected)


def _split_list(value: Any) -> list[Any]:
    """Form bodies carry lists as comma-separated text (or repeated keys)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return value
    raise MalformedEventError("expected a list or a comma-separated string")


def _field_names(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise MalformedEventError(f"{name} must be a list of field names")
    for item in value:
        if not isinstance(item, str) or not item or len(item) > _MAX_FIELD_NAME:
            raise MalformedEventError(f"{name} must hold field names (1-200 character strings)")
    return tuple(value)


def _notification_affected_fields(
    value: Any,
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Zoho sends either plain field names or `[{"<record id>": ["Field", ...]}, ...]`."""
    if value is None:
        return (), {}
    if not isinstance(value, list):
        raise MalformedEventError("affected_fields must be a list")
    common: list[str] = []
    by_id: dict[str, tuple[str, ...]] = {}
    for item in value:
        if isinstance(item, str):
            common.extend(_field_names([item], "affected_fields"))
        elif isinstance(item, dict):
            for record_id, names in item.items():
                by_id[_record_id(record_id)] = _field_names(names, "affected_fields")
        else:
            raise MalformedEventError("affected_fields items must be names or {id: [names]} objects")
    return tuple(common), by_id


def _affected_values(value: Any) -> dict[str, dict[str, Any]]:
    """Per-record values by id; entries of any other shape are skipped, not refused, because the
    shape is undocumented and the event is complete without them."""
    snapshots: dict[str, dict[str, Any]] = {}
    for item in value if isinstance(value, list) else ():
        record_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(record_id, int) and not isinstance(record_id, bool):
            record_id = str(record_id)
        if isinstance(record_id, str) and _RECORD_ID.fullmatch(record_id):
            snapshots[record_id] = item
    return snapshots


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEventError(f"{name} must be an object")
    return value


def _optional_object(value: Any, name: str) -> dict[str, Any] | None:
    return None if value is None else _object(value, name)


def _record_modified_time(record: Mapping[str, Any] | None) -> datetime | None:
    """The snapshot's Modified_Time, when it is a time with an offset (a webhook's merge field in
    Zoho's ISO format); anything else leaves the event without a Zoho time rather than refused."""
    value = record.get("Modified_Time") if record is not None else None
    if not isinstance(value, str):
        return None
    try:
        return _timestamp(value, "Modified_Time")
    except MalformedEventError:
        return None


def _webhook_record(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        value = load_json_object(value) if value.strip() else None
    return _optional_object(value, "record")


def _epoch_ms(value: Any, name: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedEventError(f"{name} must be epoch milliseconds")
    if not math.isfinite(value) or not 0 <= value < _MAX_EPOCH_MS:
        raise MalformedEventError(f"{name} is out of range")
    # Integer arithmetic: a float division would round 1700000000123 ms to ...122.999 ms.
    whole_ms = int(value)
    return datetime.fromtimestamp(whole_ms // 1000, tz=UTC).replace(microsecond=(whole_ms % 1000) * 1000)


def _timestamp(value: Any, name: str) -> datetime:
    """Epoch milliseconds (number or digits) or ISO 8601 with an offset; naive times are
    refused because guessing a timezone is how connectors end up hours off."""
    if isinstance(value, str) and value.strip().isdigit():
        return _epoch_ms(int(value.strip()), name)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise MalformedEventError(f"{name} must be ISO 8601 or epoch milliseconds") from None
        if moment.tzinfo is None:
            raise MalformedEventError(f"{name} needs a UTC offset")
        if not 0 <= moment.timestamp() * 1000 < _MAX_EPOCH_MS:
            raise MalformedEventError(f"{name} is out of range")
        return moment.astimezone(UTC)
    return _epoch_ms(value, name)
