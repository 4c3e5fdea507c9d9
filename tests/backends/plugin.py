"""pytest plugin that exposes the real-service fixtures of tests/backends/ to every test.

One short module per service; this file finds them all (every module of this folder but
itself and ``service``), registers each as a plugin so its fixtures reach every test, and
prints the logs of the services this session started when a test fails. A module maps
the session fixtures that start a service to that service's name in ``SERVICE_OF_FIXTURE``.
Adding a service is adding a module here: nothing in this file names one.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

from .service import STARTED

_HELPERS = {"plugin", "service"}
_MODULES = sorted(
    f"{__package__}.{info.name}"
    for info in pkgutil.iter_modules([str(Path(__file__).parent)])
    if info.name not in _HELPERS and not info.name.startswith("_")
)

# Each module becomes a plugin of its own: pytest collects its fixtures.
pytest_plugins = _MODULES


def service_of_fixture() -> dict[str, str]:
    """Session fixture → the name of the service it starts, from every backend module
    (fixtures built on them, such as pg_database, reach these through item.fixturenames)."""
    found: dict[str, str] = {}
    for name in _MODULES:
        found.update(getattr(importlib.import_module(name), "SERVICE_OF_FIXTURE", {}))
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed and STARTED:
        # Only the logs of the services this test used: the others say nothing about it.
        services = service_of_fixture()
        fixtures = getattr(item, "fixturenames", ())
        used = {services[f] for f in fixtures if f in services}
        for service in STARTED:
            if service.name in used:
                report.sections.append((f"{service.name} log", service.log_tail()))
