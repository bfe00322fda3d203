"""A scripted CRM records listing (GET /crm/v8/{Module}) for precise paging tests.

It follows Zoho's documented rules strictly where they bite: `page` stops at 2,000 records,
`page_token` continues, tokens can be made to expire, at most 50 fields a call, and
If-Modified-Since is treated as strictly "after" (the less forgiving reading), so a client that
sends the window start as-is would lose the records of that very second.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from zoho_pipelines_tests.zoho.scripted_server import Canned, SeenRequest

IST = timezone(timedelta(hours=5, minutes=30))
EPOCH = datetime(2024, 5, 1, tzinfo=UTC)


_COQL = re.compile(
    r"select (?P<fields>[\w, ]+) from (?P<module>\w+) "
    r"where \(Modified_Time >= '(?P<low>[^']+)' and Modified_Time < '(?P<high>[^']+)'\) "
    r"order by Modified_Time asc, id asc limit (?P<offset>\d+), (?P<limit>\d+)"
)


def _error(status: int, code: str) -> Canned:
    return Canned(status, {"code": code, "details": {}, "message": code.lower(), "status": "error"})


class CrmListing:
    """Records of one module, each `{id, Modified_Time (IST), F_0..F_n}`; callable as `on_api_call`."""

    def __init__(
        self,
        module: str,
        count: int,
        *,
        extra_fields: int = 5,
        per_second: int = 3,
        seconds: Sequence[int] | None = None,
        token_uses_before_expiry: int | None = None,
    ) -> None:
        """`seconds` (ascending, one per record) places records freely, e.g. thousands on one second;
        without it `per_second` records share each second in turn."""
        offsets = list(seconds) if seconds is not None else [index // per_second for index in range(count)]
        if len(offsets) != count or offsets != sorted(offsets):
            raise ValueError("seconds must hold one ascending offset per record")
        self.module = module
        self.field_names = [f"F_{index}" for index in range(extra_fields)]
        self.records = [
            {
                "id": str(7_000_000_000_000_000_000 + index),
                "Modified_Time": (EPOCH + timedelta(seconds=offsets[index])).astimezone(IST).isoformat(),
                **{name: f"{index}-{name}" for name in self.field_names},
            }
            for index in range(count)
        ]
        self.token_uses_before_expiry = token_uses_before_expiry
        self.pages_by_page: list[int] = []
        self.token_calls = 0
        self.coql_queries: list[str] = []
        self.widest_call = 0
        self._tokens: dict[str, tuple[datetime, int]] = {}
        self._token_uses = 0
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def moment(self, index: int) -> datetime:
        return datetime.fromisoformat(self.records[index]["Modified_Time"]).astimezone(UTC)

    def ids_between(self, start: datetime, end: datetime) -> list[str]:
        return [r["id"] for r in self.records if start <= datetime.fromisoformat(r["Modified_Time"]) < end]

    def __call__(self, request: SeenRequest) -> Canned | None:
        if request.method == "POST" and request.path == "/crm/v8/coql":
            return self._coql(json.loads(request.body)["select_query"])
        if request.method != "GET" or request.path != f"/crm/v8/{self.module}":
            return None
        query = {key: values[0] for key, values in request.query.items()}
        fields = query["fields"].split(",")
        with self._lock:
            self.widest_call = max(self.widest_call, len(fields))
        if len(fields) > 50:
            return _error(400, "LIMIT_EXCEEDED")
        if "ids" in query:
            wanted = set(query["ids"].split(","))
            rows = [self._render(record, fields) for record in self.records if record["id"] in wanted]
            return Canned(200, {"data": rows, "info": {"more_records": False}}) if rows else Canned(204)
        return self._page(query, fields, request.headers.get("if-modified-since"))

    def _page(self, query: dict[str, str], fields: list[str], since_header: str | None) -> Canned:
        since = datetime.fromisoformat(since_header) if since_header else EPOCH - timedelta(days=1)
        selected = [r for r in self.records if datetime.fromisoformat(r["Modified_Time"]) > since]
        if "page_token" in query:
            with self._lock:
                self.token_calls += 1
                self._token_uses += 1
                expired = (
                    self.token_uses_before_expiry is not None
                    and self._token_uses > self.token_uses_before_expiry
                )
                issued_since, offset = self._tokens.get(query["page_token"], (since, -1))
            if expired or offset < 0:
                return _error(400, "EXPIRED_VALUE")
            if issued_since != since:
                return _error(400, "TOKEN_BOUND_DATA_MISMATCH")
        else:
            page = int(query.get("page", "1"))
            with self._lock:
                self.pages_by_page.append(page)
            if page * int(query["per_page"]) > 2_000:
                return _error(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED")
            offset = (page - 1) * int(query["per_page"])
        if not selected:
            return Canned(204)
        per_page = int(query["per_page"])
        chunk = selected[offset : offset + per_page]
        more = offset + per_page < len(selected)
        info: dict[str, Any] = {"per_page": per_page, "count": len(chunk), "more_records": more}
        if more:
            token = f"tok{next(self._serial)}"
            with self._lock:
                self._tokens[token] = (since, offset + per_page)
            info["next_page_token"] = token
        return Canned(200, {"data": [self._render(record, fields) for record in chunk], "info": info})

    def _coql(self, query: str) -> Canned:
        """The one COQL shape the client emits: a Modified_Time range, ordered, with LIMIT o, n."""
        with self._lock:
            self.coql_queries.append(query)
        match = _COQL.fullmatch(query)
        if match is None or match["module"] != self.module:
            return _error(400, "SYNTAX_ERROR")
        low, high = datetime.fromisoformat(match["low"]), datetime.fromisoformat(match["high"])
        offset, limit = int(match["offset"]), int(match["limit"])
        if limit > 2_000 or offset + limit > 100_000:
            return _error(400, "LIMIT_EXCEEDED")
        fields = [name.strip() for name in match["fields"].split(",")]
        selected = [r for r in self.records if low <= datetime.fromisoformat(r["Modified_Time"]) < high]
        rows = [self._render(record, fields) for record in selected[offset : offset + limit]]
        if not rows:
            return Canned(204)
        info = {"count": len(rows), "more_records": offset + limit < len(selected)}
        return Canned(200, {"data": rows, "info": info})

    @staticmethod
    def _render(record: dict[str, str], fields: list[str]) -> dict[str, str]:
        return {"id": record["id"], **{name: record[name] for name in fields if name in record}}
