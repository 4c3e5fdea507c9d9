"""A fake Microsoft Teams Workflows webhook ("Post to a channel when a webhook request is
received"): it accepts a POST of ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": {AdaptiveCard}}]}`` at
``/workflows/<id>/triggers/manual/paths/invoke?api-version=…&sig=<signature>`` and answers
202 Accepted, as Power Automate does; a wrong signature is 401, a payload that is not an
Adaptive Card message is 400. One server per test session; ``fake.reset()`` clears.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._http import Answer, Recorder, Request, serve

SIGNATURE = "FakeTeamsSig-0123456789abcdef"
PATH = "/workflows/fake0123/triggers/manual/paths/invoke"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def _answer(request: Request) -> Answer:
    if request.method != "POST" or request.path != PATH:
        return 404, {}, {"error": {"code": "NotFound"}}
    if request.query.get("sig") != SIGNATURE:
        return 401, {}, {"error": {"code": "DirectApiAuthorizationRequired"}}
    try:
        payload = request.json
        cards = [a for a in payload["attachments"] if a["contentType"] == CARD_TYPE]
        assert payload["type"] == "message" and cards
        assert all(c["content"]["type"] == "AdaptiveCard" for c in cards)
    except (ValueError, KeyError, TypeError, AssertionError):
        return 400, {}, {"error": {"code": "InvalidRequestContent"}}
    return 202, {}, b""


def workflow_url(fake: Recorder, sig: str = SIGNATURE) -> str:
    return f"{fake.url}{PATH}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"


def serve_teams() -> Recorder:
    return serve(_answer, "fake-teams")


@pytest.fixture(scope="session")
def teams_fake() -> Iterator[Recorder]:
    fake = serve_teams()
    yield fake
    fake.stop()


@pytest.fixture
def teams(teams_fake: Recorder) -> Recorder:
    teams_fake.reset()
    return teams_fake
