"""A fake PagerDuty Events API v2 (``POST /v2/enqueue``), as PagerDuty documents it:
``trigger`` / ``acknowledge`` / ``resolve`` events with a ``routing_key`` (32 characters),
answered 202 ``{"status": "success", "message": "Event processed", "dedup_key": …}``;
an invalid event is 400 ``{"status": "invalid event", "errors": [...]}``. It keeps the
open incidents by dedup key (``fake.open``). One server per test session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ._http import Answer, Recorder, Request, serve

ROUTING_KEY = "R0UT1NGKEYfake0123456789abcdefAB"
SEVERITIES = {"critical", "error", "warning", "info"}


def _answerer(state: dict[str, dict[str, Any]]) -> Any:
    def answer(request: Request) -> Answer:
        if request.method != "POST" or request.path != "/v2/enqueue":
            return 404, {}, {"status": "not found"}
        try:
            event = request.json
        except ValueError:
            return 400, {}, {"status": "invalid event", "errors": ["not JSON"]}
        errors = []
        if event.get("routing_key") != ROUTING_KEY:
            errors.append("'routing_key' is invalid")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        if action == "trigger":
            payload = event.get("payload") or {}
            if not payload.get("summary") or not payload.get("source"):
                errors.append("'payload.summary' and 'payload.source' are required")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' is invalid")
        elif not event.get("dedup_key"):
            errors.append("'dedup_key' is required for " + str(action))
        if errors:
            return (
                400,
                {},
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
            )
        key = event.get("dedup_key") or uuid.uuid4().hex
        if action == "trigger":
            state[key] = event
        elif action == "resolve":
            state.pop(key, None)
        return 202, {}, {"status": "success", "message": "Event processed", "dedup_key": key}

    return answer


def serve_pagerduty() -> tuple[Recorder, dict[str, dict[str, Any]]]:
    state: dict[str, dict[str, Any]] = {}
    return serve(_answerer(state), "fake-pagerduty"), state


@pytest.fixture(scope="session")
def pagerduty_fake() -> Iterator[tuple[Recorder, dict[str, dict[str, Any]]]]:
    fake, state = serve_pagerduty()
    yield fake, state
    fake.stop()


@pytest.fixture
def pagerduty(
    pagerduty_fake: tuple[Recorder, dict[str, dict[str, Any]]],
) -> tuple[Recorder, dict[str, dict[str, Any]]]:
    fake, state = pagerduty_fake
    fake.reset()
    state.clear()
    return fake, state
