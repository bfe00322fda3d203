"""The Notification API: watch channels, and real HTTP deliveries when records change.

Deliveries run on one worker thread with a short timeout, so a slow or dead receiver never
stalls an API call or the server; every outcome is counted in the stats.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.clock import epoch_ms
from zoho_pipelines.sandbox.crm_catalog import MODULES
from zoho_pipelines.sandbox.crm_records import MAX_PER_PAGE, BadRequest, page_of, positive_int
from zoho_pipelines.sandbox.crm_store import CrmStore
from zoho_pipelines.sandbox.errors import crm_error, crm_error_body, json_response
from zoho_pipelines.sandbox.stats import SandboxStats

DEFAULT_EXPIRY_S = 3_600
MAX_EXPIRY_S = 7 * 86_400
OPERATIONS = {"create": "insert", "edit": "update", "delete": "delete"}
IDS_PER_NOTIFICATION = 100


@dataclass
class Channel:
    channel_id: str
    events: set[str]
    notify_url: str
    token: str | None
    expiry_ms: int
    return_affected_field_values: bool = False
    notify_on_related_action: bool = False
    fields: dict[str, Any] | None = None
    delivered: int = field(default=0)

    def wants(self, module: str, operation: str) -> bool:
        verb = {"insert": "create", "update": "edit", "delete": "delete"}[operation]
        return f"{module}.{verb}" in self.events or f"{module}.all" in self.events


class NotificationHub:
    def __init__(self, store: CrmStore, stats: SandboxStats, timeout_s: float) -> None:
        self.store = store
        self.clock = store.clock
        self.stats = stats
        self.channels: dict[str, Channel] = {}
        self.base_url = ""
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._client = httpx.Client(timeout=timeout_s)
        self._worker = threading.Thread(target=self._deliver_forever, name="sandbox-notify", daemon=True)
        self._worker.start()

    # ---- publishing ------------------------------------------------------------------------

    def active(self) -> list[Channel]:
        now = epoch_ms(self.clock)
        with self._lock:
            return [channel for channel in self.channels.values() if channel.expiry_ms > now]

    def publish(self, module: str, operation: str, ids: list[int], affected: list[str]) -> None:
        """Queue one POST per matching channel (and per 100 ids) for a change in `module`."""
        channels = [channel for channel in self.active() if channel.wants(module, operation)]
        for channel in channels:
            for start in range(0, len(ids), IDS_PER_NOTIFICATION):
                chunk = ids[start : start + IDS_PER_NOTIFICATION]
                payload = self._payload(channel, module, operation, chunk, affected)
                self._queue.put((channel.notify_url, orjson.dumps(payload)))

    def _payload(
        self, channel: Channel, module: str, operation: str, ids: list[int], affected: list[str]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "server_time": epoch_ms(self.clock),
            "query_params": {},
            "module": module,
            "resource_uri": f"{self.base_url}/crm/v8/{module}",
            "ids": [str(record_id) for record_id in ids],
            "affected_fields": [{str(record_id): affected} for record_id in ids]
            if operation == "update"
            else [],
            "operation": operation,
            "channel_id": channel.channel_id,
            "token": channel.token,
        }
        if channel.return_affected_field_values and operation == "update" and affected:
            indices = np.array([self.store.index_of(module, record_id) for record_id in ids], dtype=np.int64)
            payload["affected_values"] = self.store.render(module, indices, affected)
        return payload

    def _deliver_forever(self) -> None:
        while (item := self._queue.get()) is not None:
            url, body = item
            try:
                response = self._client.post(url, content=body, headers={"Content-Type": "application/json"})
                self.stats.count("notifications_delivered" if response.is_success else "notifications_failed")
            except httpx.HTTPError:
                self.stats.count("notifications_failed")
            finally:
                self._queue.task_done()

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until queued deliveries are done (tests); False if they did not finish in time."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)
        self._client.close()

    # ---- channel management -----------------------------------------------------------------

    def event_details(self, channel: Channel) -> list[dict[str, Any]]:
        modules = sorted({event.split(".", 1)[0] for event in channel.events})
        expiry = self.store.times.format_ms(channel.expiry_ms)
        return [
            {
                "channel_expiry": expiry,
                "resource_uri": f"{self.base_url}/crm/v8/{module}",
                "resource_id": MODULES[module].module_id,
                "resource_name": module,
                "channel_id": channel.channel_id,
                "notification_condition": [],
            }
            for module in modules
        ]

    def describe(self, channel: Channel) -> dict[str, Any]:
        detail = self.event_details(channel)
        return {
            "channel_id": channel.channel_id,
            "events": sorted(channel.events),
            "channel_expiry": self.store.times.format_ms(channel.expiry_ms),
            "resource_uri": detail[0]["resource_uri"] if detail else None,
            "resource_id": detail[0]["resource_id"] if detail else None,
            "resource_name": detail[0]["resource_name"] if detail else None,
            "notify_url": channel.notify_url,
            "token": channel.token,
            "return_affected_field_values": channel.return_affected_field_values,
            "notify_on_related_action": channel.notify_on_related_action,
            "fields": channel.fields,
        }


class WatchItemError(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.body = crm_error_body(code, message, details)


def _parse_events(item: dict[str, Any], path: str) -> set[str]:
    events = item.get("events")
    if not isinstance(events, list) or not events:
        raise WatchItemError(
            "MANDATORY_NOT_FOUND",
            "required field not found",
            {"api_name": "events", "json_path": f"{path}.events"},
        )
    for event in events:
        module, _, verb = str(event).partition(".")
        if module not in MODULES or verb not in (*OPERATIONS, "all"):
            raise WatchItemError(
                "INVALID_DATA", "invalid data", {"api_name": "events", "json_path": f"{path}.events"}
            )
    return {str(event) for event in events}


def _parse_expiry(item: dict[str, Any], path: str, now_ms: int) -> int:
    raw = item.get("channel_expiry")
    if raw in (None, ""):
        return now_ms + DEFAULT_EXPIRY_S * 1000
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("offset missing")
    except ValueError:
        raise WatchItemError(
            "INVALID_DATA",
            "invalid data",
            {
                "api_name": "channel_expiry",
                "json_path": f"{path}.channel_expiry",
                "expected_data_type": "datetime",
            },
        ) from None
    expiry = int(moment.timestamp() * 1000)
    if not now_ms < expiry <= now_ms + MAX_EXPIRY_S * 1000 + 60_000:
        raise WatchItemError(
            "INVALID_DATA",
            "channel_expiry should be within a week from now",
            {"api_name": "channel_expiry", "json_path": f"{path}.channel_expiry"},
        )
    return expiry


def _channel_id(item: dict[str, Any], path: str) -> str:
    raw = item.get("channel_id")
    if raw in (None, ""):
        raise WatchItemError(
            "MANDATORY_NOT_FOUND",
            "required field not found",
            {"api_name": "channel_id", "json_path": f"{path}.channel_id"},
        )
    if not str(raw).isdigit():
        raise WatchItemError(
            "INVALID_DATA",
            "invalid data",
            {"api_name": "channel_id", "json_path": f"{path}.channel_id", "expected_data_type": "long"},
        )
    return str(raw)


def _notify_url(item: dict[str, Any], path: str) -> str:
    url = item.get("notify_url")
    if not url:
        raise WatchItemError(
            "MANDATORY_NOT_FOUND",
            "required field not found",
            {"api_name": "notify_url", "json_path": f"{path}.notify_url"},
        )
    if not str(url).startswith(("http://", "https://")):
        raise WatchItemError(
            "INVALID_DATA", "invalid data", {"api_name": "notify_url", "json_path": f"{path}.notify_url"}
        )
    return str(url)


def _success(hub: NotificationHub, channel: Channel, message: str) -> dict[str, Any]:
    return {
        "code": "SUCCESS",
        "details": {"events": hub.event_details(channel)},
        "message": message,
        "status": "success",
    }


def _wrapped(items: list[dict[str, Any]], ok_status: int) -> Response:
    """Per-item results; when any item failed Zoho answers 202 with the wrapped errors."""
    failed = any(item.get("status") == "error" for item in items)
    return json_response({"watch": items}, 202 if failed else ok_status)


async def _watch_items(request: Request) -> list[dict[str, Any]] | Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return crm_error(400, "INVALID_DATA", "body", {})
    items = body.get("watch") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return crm_error(
            400,
            "MANDATORY_NOT_FOUND",
            "required field not found",
            {"api_name": "watch", "json_path": "$.watch"},
        )
    return items


def watch_routes(hub: NotificationHub) -> list[BaseRoute]:
    async def enable(request: Request) -> Response:
        items = await _watch_items(request)
        if isinstance(items, Response):
            return items
        results = []
        for position, item in enumerate(items):
            path = f"$.watch[{position}]"
            try:
                channel = Channel(
                    channel_id=_channel_id(item, path),
                    events=_parse_events(item, path),
                    notify_url=_notify_url(item, path),
                    token=item.get("token"),
                    expiry_ms=_parse_expiry(item, path, epoch_ms(hub.clock)),
                    return_affected_field_values=bool(item.get("return_affected_field_values")),
                    notify_on_related_action=bool(item.get("notify_on_related_action")),
                    fields=item.get("fields"),
                )
            except WatchItemError as error:
                results.append(error.body)
                continue
            with hub._lock:
                hub.channels[channel.channel_id] = channel
            results.append(
                _success(hub, channel, "Successfully subscribed for actions-watch of the given module")
            )
        return _wrapped(results, 201)

    async def update(request: Request) -> Response:
        """PUT replaces a channel's subscription; PATCH renews it or, with _delete_events, drops events."""
        items = await _watch_items(request)
        if isinstance(items, Response):
            return items
        replace = request.method == "PUT"
        results = []
        for position, item in enumerate(items):
            path = f"$.watch[{position}]"
            try:
                channel_id = _channel_id(item, path)
                channel = hub.channels.get(channel_id)
                if channel is None:
                    raise WatchItemError(
                        "NOT_SUBSCRIBED", "the channel is not subscribed", {"channel_id": channel_id}
                    )
                events = _parse_events(item, path) if item.get("events") or replace else set()
                expiry = (
                    _parse_expiry(item, path, epoch_ms(hub.clock))
                    if item.get("channel_expiry") or replace
                    else channel.expiry_ms
                )
                with hub._lock:
                    if item.get("_delete_events"):
                        channel.events -= events
                        if not channel.events:
                            hub.channels.pop(channel_id, None)
                    else:
                        channel.events = events if replace else channel.events | events
                        channel.expiry_ms = expiry
                        channel.notify_url = (
                            _notify_url(item, path) if replace or "notify_url" in item else channel.notify_url
                        )
                        channel.token = item.get("token", channel.token)
            except WatchItemError as error:
                results.append(error.body)
                continue
            message = (
                "Successfully un-subscribed from actions-watch"
                if item.get("_delete_events")
                else "Successfully updated the subscribe details"
            )
            results.append(_success(hub, channel, message))
        return _wrapped(results, 200)

    async def disable(request: Request) -> Response:
        raw = request.query_params.get("channel_ids", "")
        ids = [part.strip() for part in raw.split(",") if part.strip()]
        if not ids:
            return crm_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "channel_ids"},
            )
        results = []
        for channel_id in ids:
            with hub._lock:
                channel = hub.channels.pop(channel_id, None)
            if channel is None:
                results.append(
                    crm_error_body(
                        "NOT_SUBSCRIBED", "the channel is not subscribed", {"channel_id": channel_id}
                    )
                )
            else:
                results.append(_success(hub, channel, "Successfully removed the subscribe details"))
        return _wrapped(results, 200)

    async def details(request: Request) -> Response:
        channels = hub.active()
        if channel_id := request.query_params.get("channel_id"):
            channels = [channel for channel in channels if channel.channel_id == channel_id]
        if module := request.query_params.get("module"):
            channels = [c for c in channels if any(e.startswith(f"{module}.") for e in c.events)]
        try:
            per_page = positive_int(request, "per_page", MAX_PER_PAGE, MAX_PER_PAGE)
            page = positive_int(request, "page", 1)
        except BadRequest as bad:
            return bad.response
        chosen, info = page_of(channels, page, per_page)
        if not chosen:
            return Response(status_code=204)
        return json_response({"watch": [hub.describe(channel) for channel in chosen], "info": info})

    return [
        Route("/crm/{version}/actions/watch", enable, methods=["POST"]),
        Route("/crm/{version}/actions/watch", update, methods=["PUT", "PATCH"]),
        Route("/crm/{version}/actions/watch", disable, methods=["DELETE"]),
        Route("/crm/{version}/actions/watch", details, methods=["GET"]),
    ]
