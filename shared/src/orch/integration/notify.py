"""Notifications from flow runs: message templates and the hooks that send them.

Any block with the ``orch.integration.Notifier`` role (Slack, Teams, e-mail,
PagerDuty, a webhook) sends alerts from a flow's hooks::

    @flow(
        on_failure=[notify_on(slack)],
        on_crashed=[notify_on(pagerduty)],
        on_completion=[notify_on(pagerduty)],  # PagerDuty resolves the incident
        on_running=[notify_on(slack, after_seconds=3600)],  # still running after 1 h
    )
    def etl(): ...

Messages are templates (``str.format`` fields) rendered with the run's context
(``TEMPLATE_FIELDS``): ``{flow_name}``, ``{flow_run_name}``, ``{flow_run_id}``,
``{state}``, ``{error}``, ``{duration}``, ``{run_url}``, ``{parameters}``, ``{tags}``, …
Every secret value this process has revealed is masked in the rendered text and in the
context given to the notifier. A template naming an unknown field is refused when the hook
is made, naming the field.

A notifier that fails (service down, bad URL, refused token) never fails the flow nor
hides its result: the hook logs a warning to the run's log and the flow goes on.

``{run_url}`` is ``$ORCH_RUN_URL`` formatted with the same fields when it is set (e.g.
``https://ci.example.com/orch/{flow_run_id}``), else the command that shows the run
(``orch runs show <id>``): orch has no server of its own.
"""

from __future__ import annotations

import contextvars
import logging
import os
import string
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orch.engine.context import FlowRun
    from orch.integration.roles import Notifier, Severity
    from orch.states import State

__all__ = [
    "DEFAULT_BODY",
    "DEFAULT_SUBJECT",
    "TEMPLATE_FIELDS",
    "NotifyHook",
    "check_template",
    "notify_on",
    "render_template",
    "run_context",
]

logger = logging.getLogger("orch.notify")

#: The fields a message template may use, and what each holds.
TEMPLATE_FIELDS: dict[str, str] = {
    "flow_name": "the flow's name",
    "flow_run_name": "the run's name",
    "flow_run_id": "the run's id (32 hex characters)",
    "state": "the run's state: Running, Completed, Cached, Failed or Crashed",
    "error": "the error of a failed or crashed run (type: message), else empty",
    "duration": "how long the run has run, e.g. '2.5 s' or '1 h 02 min'",
    "duration_seconds": "the same, in seconds (a float)",
    "run_url": "$ORCH_RUN_URL rendered with these fields, else 'orch runs show <id>'",
    "start_time": "when the run started (UTC, ISO 8601)",
    "end_time": "when the run ended (UTC, ISO 8601), empty while it runs",
    "parameters": "the run's parameters (a dict; {parameters[day]} picks one)",
    "tags": "the flow's tags, comma-separated",
    "attempt": "the attempt number (1 + retries so far)",
    "severity": "the message's severity: info, warning, error or critical",
}

DEFAULT_SUBJECT = "{flow_name}: flow run {flow_run_name} {state}"
DEFAULT_BODY = (
    "Flow run {flow_run_name} ({flow_run_id}) of flow {flow_name}: {state} after "
    "{duration}.\n{error}\nDetails: {run_url}"
)
DEFAULT_LONG_SUBJECT = "{flow_name}: flow run {flow_run_name} still running after {duration}"

# the severity a message gets from the run's state, unless the hook says otherwise
_SEVERITY_OF_STATE: dict[str, Severity] = {
    "Failed": "error",
    "Crashed": "critical",
    "Completed": "info",
    "Cached": "info",
    "Running": "info",
}

_formatter = string.Formatter()


def check_template(template: str, what: str = "template") -> str:
    """``template`` if each field it uses is one of ``TEMPLATE_FIELDS``, else a
    ``ValueError`` naming the unknown field (and ``what`` the template is).

    Example:
        >>> check_template("{flow_name} failed: {error}")
        '{flow_name} failed: {error}'
    """
    try:
        parsed = list(_formatter.parse(template))
    except ValueError as exc:
        raise ValueError(f"{what} {template!r} is not a valid template: {exc}") from None
    for _, field, _, _ in parsed:
        if field is None:
            continue
        base = field.split(".", 1)[0].split("[", 1)[0]
        if base not in TEMPLATE_FIELDS:
            known = ", ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
            raise ValueError(f"{what} uses the unknown field {{{base}}}; known fields: {known}")
    return template


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """``template`` filled with ``context``, every revealed secret masked.

    Example:
        >>> render_template("{flow_name}: {state}", {"flow_name": "etl", "state": "Failed"})
        'etl: Failed'
    """
    from orch.secrets.redaction import redact

    try:
        text = _formatter.vformat(template, (), dict(context))
    except (KeyError, IndexError, AttributeError, ValueError) as exc:
        raise ValueError(f"template {template!r} cannot be rendered: {exc!r}") from None
    return redact(text)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def run_context(
    run: FlowRun, state: State[Any] | None = None, severity: Severity | None = None
) -> dict[str, Any]:
    """The template fields of ``run`` in ``state`` (default: the run's own state name),
    secrets masked in every text value.

    Example:
        ``run_context(get_run_context().flow_run)["flow_run_id"]``
    """
    from orch.secrets.redaction import redact

    state_name = state.name if state is not None else run.state_name
    error = ""
    if state is not None and state_name in ("Failed", "Crashed"):
        exc = state.exception
        error = f"{type(exc).__name__}: {exc}" if exc is not None else (state.message or "")
    elif run.error:
        error = run.error
    end = run.end_time
    elapsed = (end if end is not None else time.time()) - run.start_time
    context: dict[str, Any] = {
        "flow_name": run.flow_name,
        "flow_run_name": run.name,
        "flow_run_id": run.id,
        "state": state_name,
        "error": redact(error),
        "duration": _duration(elapsed),
        "duration_seconds": round(elapsed, 3),
        "start_time": _iso(run.start_time),
        "end_time": _iso(end),
        "parameters": {k: _masked(v) for k, v in run.parameters.items()},
        "tags": ", ".join(run.tags),
        "attempt": run.attempt,
        "severity": severity or _SEVERITY_OF_STATE.get(state_name, "error"),
    }
    url_template = os.environ.get("ORCH_RUN_URL", "").strip()
    if url_template:
        context["run_url"] = render_template(
            check_template(url_template, "ORCH_RUN_URL"), {**context, "run_url": ""}
        )
    else:
        context["run_url"] = f"orch runs show {run.id}"
    return context


def _masked(value: Any) -> Any:
    from orch.secrets.redaction import redact

    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(repr(value))


class NotifyHook:
    """A flow hook that sends one message through a notifier: made by ``notify_on``.

    Example:
        ``@flow(on_failure=[notify_on(slack)])``
    """

    def __init__(
        self,
        notifier: Notifier | str,
        *,
        subject: str | None = None,
        body: str | None = None,
        severity: Severity | None = None,
        after_seconds: float | None = None,
    ) -> None:
        if not isinstance(notifier, str) and not callable(getattr(notifier, "notify", None)):
            raise TypeError(
                f"notify_on() needs a notifier block (with a notify() method) or the name "
                f"of a saved one ('slack-webhook/alerts'), got {type(notifier).__name__}"
            )
        if after_seconds is not None and not after_seconds > 0:
            raise ValueError(f"notify_on(): after_seconds must be > 0, got {after_seconds!r}")
        if severity is not None and severity not in ("info", "warning", "error", "critical"):
            raise ValueError(
                f"notify_on(): severity must be info, warning, error or critical, got {severity!r}"
            )
        self.notifier = notifier
        self.after_seconds = after_seconds
        default_subject = DEFAULT_LONG_SUBJECT if after_seconds else DEFAULT_SUBJECT
        self.subject = check_template(subject or default_subject, "notify_on(): subject")
        self.body = check_template(body or DEFAULT_BODY, "notify_on(): body")
        self.severity = severity
        self.__name__ = f"notify_on({self._label()})"

    def _label(self) -> str:
        if isinstance(self.notifier, str):
            return self.notifier
        from orch.integration import block_label

        return block_label(self.notifier)

    def __repr__(self) -> str:
        return self.__name__

    def __call__(self, flow: Any, run: FlowRun, state: State[Any]) -> None:
        """Send the message now or, with ``after_seconds`` in ``on_running``, arm the timer."""
        if self.after_seconds is not None and state.name == "Running":
            self._arm(run, state)
            return
        self.send(run, state, self.severity)

    def _arm(self, run: FlowRun, state: State[Any]) -> None:
        context = contextvars.copy_context()  # the run's: its logger reaches the run history
        timer = threading.Timer(self.after_seconds or 0, context.run, (self._fire, run, state))
        timer.daemon = True
        timer.name = f"orch-notify-{run.id[-6:]}"
        with _timers_lock:
            _timers.setdefault(run.id, []).append(timer)
        timer.start()

    def _fire(self, run: FlowRun, state: State[Any]) -> None:
        with _timers_lock:
            timers = _timers.get(run.id, [])
            current = threading.current_thread()
            if current in timers:
                timers.remove(current)
            if not timers:
                _timers.pop(run.id, None)
        if run.end_time is None:
            self.send(run, state, self.severity or "warning")

    def send(self, run: FlowRun, state: State[Any], severity: Severity | None) -> bool:
        """Render and send the message; ``False`` (and a warning in the run's log) if the
        notifier failed. Never raises."""
        try:
            context = run_context(run, state, severity)
            subject = render_template(self.subject, context)
            body = "\n".join(
                line for line in render_template(self.body, context).splitlines() if line.strip()
            )
            notifier = self._notifier()
            notifier.notify(subject, body, severity=context["severity"], context=context)
        except Exception as exc:
            from orch.engine.run_logging import run_logger_or
            from orch.secrets.redaction import redact

            text = redact(f"{type(exc).__name__}: {exc}")
            run_logger_or(logger).warning(
                "notifier %s failed, the flow run goes on: %s", self._label(), text
            )
            return False
        return True

    def _notifier(self) -> Notifier:
        if not isinstance(self.notifier, str):
            return self.notifier
        from orch.blocks.base import Block

        block: Any = Block.load(self.notifier)
        if not callable(getattr(block, "notify", None)):
            raise TypeError(f"block {self.notifier!r} is not a notifier (no notify() method)")
        return block  # type: ignore[no-any-return]


_timers: dict[str, list[threading.Timer]] = {}
_timers_lock = threading.Lock()


def run_ended(run_id: str) -> None:
    """Cancel the "still running" timers of a run that ended (called by the runtime)."""
    with _timers_lock:
        timers = _timers.pop(run_id, [])
    for timer in timers:
        timer.cancel()


def notify_on(
    notifier: Notifier | str,
    *,
    subject: str | None = None,
    body: str | None = None,
    severity: Severity | None = None,
    after_seconds: float | None = None,
) -> NotifyHook:
    """A flow hook that sends a message through ``notifier`` (a block with the Notifier
    role, or the name of a saved one such as ``"slack-webhook/alerts"``, loaded when sent).

    Put it in ``on_failure``, ``on_crashed`` or ``on_completion``; in ``on_running`` with
    ``after_seconds=N`` it alerts once if the run is still running N seconds after it
    started (nothing is sent if it ends before). ``subject`` and ``body`` are templates
    over ``TEMPLATE_FIELDS``; ``severity`` defaults to the state's (Failed: error,
    Crashed: critical, Completed: info, still running: warning). A notifier that fails
    logs a warning and never changes the flow's result.

    Example:
        >>> from orch import flow
        >>> from orch.integration import notify_on
        >>> class Printer:
        ...     def notify(self, subject, body, *, severity="error", context=None):
        ...         print(severity, subject)
        >>> @flow(flow_run_name="nightly", on_failure=[notify_on(Printer(),
        ...       subject="{flow_name} {state}: {error}")])
        ... def etl() -> None:
        ...     raise ValueError("bad row")
        >>> etl(return_state=True).name
        error etl Failed: ValueError: bad row
        'Failed'
    """
    return NotifyHook(
        notifier, subject=subject, body=body, severity=severity, after_seconds=after_seconds
    )
