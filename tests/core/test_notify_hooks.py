"""The notifier role in flows: notify_on() hooks, message templates, masked secrets, the
"still running after N seconds" alert, and a failing notifier that never changes a result."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from orch import SecretStr, flow
from orch.integration import (
    TEMPLATE_FIELDS,
    Notifier,
    check_template,
    notify_on,
    render_template,
)

SECRET = "sk-live-Very-Secret-Token-9"


class Recorder(Notifier):
    """A notifier keeping what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.event = threading.Event()

    def notify(
        self,
        subject: str,
        body: str,
        *,
        severity: Any = "error",
        context: Any = None,
    ) -> None:
        self.sent.append(
            {"subject": subject, "body": body, "severity": severity, "context": context}
        )
        self.event.set()


class Broken(Notifier):
    def __init__(self) -> None:
        self.calls = 0

    def notify(
        self, subject: str, body: str, *, severity: Any = "error", context: Any = None
    ) -> None:
        self.calls += 1
        raise ConnectionError(f"service down (token {SECRET})")


def test_failure_hook_sends_one_rendered_message() -> None:
    rec = Recorder()

    @flow(
        name="etl",
        flow_run_name="nightly-{day}",
        tags=["prod"],
        on_failure=[
            notify_on(rec, subject="{flow_name} {state}", body="{error} ({parameters[day]})")
        ],
    )
    def etl(day: str) -> None:
        raise ValueError("3 rows rejected")

    state = etl("2024-01-02", return_state=True)
    assert state.name == "Failed"
    assert len(rec.sent) == 1
    message = rec.sent[0]
    assert message["subject"] == "etl Failed"
    assert message["body"] == "ValueError: 3 rows rejected (2024-01-02)"
    assert message["severity"] == "error"
    context = message["context"]
    assert context["flow_run_name"] == "nightly-2024-01-02"
    assert len(context["flow_run_id"]) == 32
    assert context["tags"] == "prod"
    assert context["run_url"] == f"orch runs show {context['flow_run_id']}"
    assert set(context) == set(TEMPLATE_FIELDS)


def test_default_message_names_flow_run_state_error_and_url() -> None:
    rec = Recorder()

    @flow(name="load", on_failure=[notify_on(rec)])
    def load() -> None:
        raise RuntimeError("disk full")

    load(return_state=True)
    (message,) = rec.sent
    run_id = message["context"]["flow_run_id"]
    assert message["subject"].startswith("load: flow run ")
    assert message["subject"].endswith(" Failed")
    assert "RuntimeError: disk full" in message["body"]
    assert f"orch runs show {run_id}" in message["body"]
    assert " s." in message["body"]  # the duration


def test_completion_and_crash_hooks_and_severities() -> None:
    rec = Recorder()

    @flow(on_completion=[notify_on(rec)], on_crashed=[notify_on(rec)], on_failure=[notify_on(rec)])
    def job(crash: bool) -> int:
        if crash:
            raise KeyboardInterrupt
        return 7

    assert job(False) == 7
    with pytest.raises(KeyboardInterrupt):
        job(True)
    assert [(m["context"]["state"], m["severity"]) for m in rec.sent] == [
        ("Completed", "info"),
        ("Crashed", "critical"),
    ]


def test_secrets_are_masked_in_the_message_and_the_context() -> None:
    rec = Recorder()
    token = SecretStr(SECRET)

    @flow(on_failure=[notify_on(rec, subject="{error}", body="{parameters} {error}")])
    def leaky(password: str) -> None:
        raise PermissionError(f"login refused for token {token.get_secret_value()}")

    leaky(SECRET, return_state=True)
    (message,) = rec.sent
    everything = repr(message)
    assert SECRET not in everything
    assert "**********" in message["subject"]
    assert "**********" in message["body"]


def test_a_failing_notifier_never_changes_the_result_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, rec = Broken(), Recorder()

    @flow(on_completion=[notify_on(broken), notify_on(rec)])
    def ok() -> int:
        return 42

    state = ok(return_state=True)
    assert state.result() == 42
    assert broken.calls == 1
    assert len(rec.sent) == 1  # the next notifier still ran

    @flow(on_failure=[notify_on(broken)])
    def bad() -> None:
        raise ValueError("the flow's own error")

    with pytest.raises(ValueError, match="the flow's own error"):
        bad()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert "failed, the flow run goes on: ConnectionError: service down" in warnings[1]


def test_the_notifier_error_text_is_masked_when_the_secret_was_revealed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    SecretStr(SECRET).get_secret_value()  # this process has seen it: it is masked everywhere
    broken = Broken()

    @flow(on_completion=[notify_on(broken)])
    def ok() -> int:
        return 1

    ok()
    assert "service down (token **********)" in caplog.text
    assert SECRET not in caplog.text


def test_running_longer_than_n_seconds_alerts_once() -> None:
    rec = Recorder()

    @flow(name="slow", on_running=[notify_on(rec, after_seconds=0.2)])
    def slow() -> str:
        assert rec.event.wait(5), "no alert while the run was still running"
        return "done"

    assert slow() == "done"
    (message,) = rec.sent
    assert message["severity"] == "warning"
    assert message["context"]["state"] == "Running"
    assert message["subject"].startswith("slow: flow run ")
    assert "still running after 0." in message["subject"]


def test_a_run_that_ends_in_time_sends_no_long_running_alert() -> None:
    rec = Recorder()

    @flow(on_running=[notify_on(rec, after_seconds=0.3)])
    def fast() -> int:
        return 1

    fast()
    time.sleep(0.5)
    assert rec.sent == []
    assert not [t for t in threading.enumerate() if t.name.startswith("orch-notify-")]


def test_async_flows_send_too() -> None:
    rec = Recorder()

    @flow(on_failure=[notify_on(rec, subject="{flow_name}: {error}")])
    async def afl() -> None:
        raise ValueError("async boom")

    state = asyncio.run(afl(return_state=True))  # type: ignore[arg-type]
    assert state.name == "Failed"
    assert rec.sent[0]["subject"] == "afl: ValueError: async boom"


def test_run_url_from_orch_run_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_RUN_URL", "https://ci.example.com/runs/{flow_run_id}")
    rec = Recorder()

    @flow(on_completion=[notify_on(rec, body="{run_url}")])
    def f() -> None:
        return None

    f()
    run_id = rec.sent[0]["context"]["flow_run_id"]
    assert rec.sent[0]["body"] == f"https://ci.example.com/runs/{run_id}"


def test_unknown_template_field_is_refused_when_the_hook_is_made() -> None:
    with pytest.raises(ValueError, match=r"subject uses the unknown field \{flow\}"):
        notify_on(Recorder(), subject="{flow} failed")
    with pytest.raises(ValueError, match=r"body .* not a valid template"):
        notify_on(Recorder(), body="{flow_name")
    assert check_template("{state}") == "{state}"
    assert render_template("{flow_name}!", {"flow_name": "x"}) == "x!"


def test_bad_notify_on_arguments_are_clear_errors() -> None:
    with pytest.raises(TypeError, match="needs a notifier block"):
        notify_on(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="after_seconds must be > 0"):
        notify_on(Recorder(), after_seconds=0)
    with pytest.raises(ValueError, match="severity must be"):
        notify_on(Recorder(), severity="loud")  # type: ignore[arg-type]


def test_a_saved_notifier_name_that_does_not_exist_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @flow(on_completion=[notify_on("slack-webhook/nope")])
    def f() -> int:
        return 5

    state = f(return_state=True)
    assert state.result() == 5
    assert "notifier slack-webhook/nope failed" in caplog.text


def test_hooks_added_with_decorators() -> None:
    rec = Recorder()

    @flow
    def f() -> None:
        raise KeyboardInterrupt

    f.on_crashed(notify_on(rec))
    with pytest.raises(KeyboardInterrupt):
        f()
    assert rec.sent[0]["context"]["state"] == "Crashed"
