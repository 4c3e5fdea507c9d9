"""A webhook receiver: records every request (method, path, headers, JSON or form body)
and answers 200 ``{"ok": true}``; ``fake.fail_next(n, status, retry_after)`` makes the next
n answers fail (429 with ``Retry-After``, 503 …). One server per test session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._http import Answer, Recorder, Request, serve


def _answer(request: Request) -> Answer:
    if request.path == "/slow":
        import time

        time.sleep(2)
    return 200, {}, {"ok": True}


def serve_receiver() -> Recorder:
    return serve(_answer, "fake-webhook-receiver")


@pytest.fixture(scope="session")
def receiver_fake() -> Iterator[Recorder]:
    fake = serve_receiver()
    yield fake
    fake.stop()


@pytest.fixture
def receiver(receiver_fake: Recorder) -> Recorder:
    receiver_fake.reset()
    return receiver_fake
