"""The deployments' tables in the block store, and the one rule that makes a slot run once.

- ``orch_deployments``: one row per deployment (schedule, parameters, policies, paused).
- ``orch_deployment_slots``: one row per slot a server took (or skipped), per manual run
  request, and per retry of a crashed run. Its primary key is
  ``(deployment, slot_key, attempt)``. A server takes a slot by inserting that row with
  ``ON CONFLICT DO NOTHING`` in its own transaction: the database's unique index lets
  exactly one insert through (on PostgreSQL a concurrent insert of the same key waits for
  the first transaction and then does nothing), so whoever gets ``rowcount == 1`` runs the
  slot. That row is the per-slot lock, it needs no lock held while the flow runs, and it
  works the same on SQLite and PostgreSQL.
- ``orch_servers``: one row per live ``orch serve`` process, with a heartbeat; a server
  whose process is gone (same host) or whose heartbeat is stale is dead, and the runs it
  held are Crashed.

Example:
    >>> from orch.deployments.store import list_deployments
    >>> isinstance(list_deployments(), list)
    True
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from orch.deployments.model import Deployment, DeploymentError
from orch.history.liveness import HOST, gone_here
from orch.history.writer import heartbeat_seconds
from orch.schedules import Schedule

if TYPE_CHECKING:
    from orch.store.base import Store, Tx

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS orch_deployments (
        name TEXT PRIMARY KEY,
        flow_name TEXT NOT NULL,
        entrypoint TEXT,
        schedule TEXT,
        parameters TEXT NOT NULL,
        paused INTEGER NOT NULL,
        catch_up INTEGER NOT NULL,
        overlap TEXT NOT NULL,
        retry_crashed INTEGER NOT NULL,
        description TEXT,
        created DOUBLE PRECISION NOT NULL,
        updated DOUBLE PRECISION NOT NULL,
        resumed DOUBLE PRECISION
    )""",
    """CREATE TABLE IF NOT EXISTS orch_deployment_slots (
        deployment TEXT NOT NULL,
        slot_key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        slot DOUBLE PRECISION NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        parameters TEXT,
        server_id TEXT,
        flow_run_id TEXT,
        claimed DOUBLE PRECISION,
        started DOUBLE PRECISION,
        ended DOUBLE PRECISION,
        note TEXT,
        PRIMARY KEY (deployment, slot_key, attempt)
    )""",
    "CREATE INDEX IF NOT EXISTS orch_deployment_slots_state ON orch_deployment_slots (state)",
    """CREATE INDEX IF NOT EXISTS orch_deployment_slots_slot
        ON orch_deployment_slots (deployment, slot)""",
    """CREATE TABLE IF NOT EXISTS orch_servers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started DOUBLE PRECISION NOT NULL,
        heartbeat DOUBLE PRECISION NOT NULL,
        deployments TEXT NOT NULL,
        stopping INTEGER NOT NULL
    )""",
]

# Slot rows in these states hold a run (or will): another server must not take them over
# unless the server that holds them is dead.
ACTIVE = ("claimed", "queued", "running", "requested")
# Kinds of rows that move a deployment's schedule cursor (not manual requests).
SCHEDULED_KINDS = ("scheduled", "catch-up", "skipped", "missed")

_DEPLOYMENT_COLUMNS = (
    "name, flow_name, entrypoint, schedule, parameters, paused, catch_up, overlap, "
    "retry_crashed, description, created, updated, resumed"
)
SLOT_COLUMNS = (
    "deployment, slot_key, attempt, slot, kind, state, parameters, server_id, flow_run_id, "
    "claimed, started, ended, note"
)


def get_store(store: Store | None = None) -> Store:
    """The store (``ORCH_STORE_URL``), with the deployments' tables created."""
    if store is None:
        from orch.store import get_store as _get

        store = _get()
    store.ensure_schema("deployments", SCHEMA)
    return store


def slot_key(slot: float) -> str:
    """The slot's key: its UTC time to the millisecond, the same on every server.

    Example:
        >>> slot_key(0.0)
        '1970-01-01T00:00:00.000Z'
    """
    from datetime import UTC, datetime

    return datetime.fromtimestamp(slot, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- deployments ---------------------------------------------------------------------------
def save_deployment(deployment: Deployment, store: Store | None = None) -> dict[str, Any]:
    """Create or update a deployment's row; a new one starts its schedule now.

    Updating keeps ``paused`` as the store has it (``orch deployments pause`` outlives a
    server restart) unless the deployment is new.

    Example:
        >>> from orch.schedules import Interval
        >>> save_deployment(Deployment("doc-example", schedule=Interval(3600)))["name"]
        'doc-example'
    """
    store = get_store(store)
    now = time.time()
    row = (
        deployment.name,
        deployment.flow_name,
        deployment.entrypoint,
        deployment.schedule_json(),
        json.dumps(deployment.parameters),
        int(deployment.paused),
        deployment.catch_up,
        deployment.overlap,
        deployment.retry_crashed,
        deployment.description,
        now,
        now,
        None,
    )
    store.retrying(
        lambda tx: tx.execute(
            f"INSERT INTO orch_deployments ({_DEPLOYMENT_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "flow_name = excluded.flow_name, entrypoint = excluded.entrypoint, "
            "schedule = excluded.schedule, parameters = excluded.parameters, "
            "catch_up = excluded.catch_up, overlap = excluded.overlap, "
            "retry_crashed = excluded.retry_crashed, description = excluded.description, "
            "updated = excluded.updated",
            row,
        ),
        idempotent=True,
    )
    found = get_deployment(deployment.name, store)
    assert found is not None
    return found


def _deployment_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [c.strip() for c in _DEPLOYMENT_COLUMNS.split(",")]
    d = dict(zip(keys, row, strict=True))
    d["schedule"] = json.loads(d["schedule"]) if d["schedule"] else None
    d["parameters"] = json.loads(d["parameters"]) if d["parameters"] else {}
    d["paused"] = bool(d["paused"])
    return d


def get_deployment(name: str, store: Store | None = None) -> dict[str, Any] | None:
    """A deployment's row as a dict (None when there is none).

    Example:
        >>> get_deployment("no-such-deployment") is None
        True
    """
    store = get_store(store)
    row = store.retrying(
        lambda tx: tx.execute(
            f"SELECT {_DEPLOYMENT_COLUMNS} FROM orch_deployments WHERE name = ?", (name,)
        ).fetchone(),
        write=False,
    )
    return None if row is None else _deployment_dict(row)


def list_deployments(store: Store | None = None) -> list[dict[str, Any]]:
    """Every deployment, by name, each with ``servers`` (live servers serving it) and
    ``next_slot`` (the next scheduled time, None when paused or unscheduled).

    Example:
        >>> isinstance(list_deployments(), list)
        True
    """
    store = get_store(store)
    rows = store.retrying(
        lambda tx: tx.execute(
            f"SELECT {_DEPLOYMENT_COLUMNS} FROM orch_deployments ORDER BY name"
        ).fetchall(),
        write=False,
    )
    servers = live_servers(store)
    now = time.time()
    out = []
    for row in rows:
        d = _deployment_dict(row)
        d["servers"] = [s["id"] for s in servers if d["name"] in s["deployments"]]
        d["next_slot"] = (
            None
            if d["paused"] or d["schedule"] is None
            else Schedule.from_dict(d["schedule"]).next_after(now)
        )
        out.append(d)
    return out


def require_deployment(name: str, store: Store | None = None) -> dict[str, Any]:
    """The deployment's row, or a ``DeploymentError`` listing the names there are."""
    found = get_deployment(name, store)
    if found is None:
        from orch.errors import did_you_mean

        names = [d["name"] for d in list_deployments(store)]
        raise DeploymentError(
            f"no deployment named {name!r}{did_you_mean(name, names)} (see `orch deployments ls`)"
        )
    return found


def set_paused(name: str, paused: bool, store: Store | None = None) -> None:
    """Pause or resume a deployment; a resumed one skips the slots it missed while paused.

    Example:
        >>> from orch.schedules import Interval
        >>> _ = save_deployment(Deployment("doc-paused", schedule=Interval(60)))
        >>> set_paused("doc-paused", True)
    """
    store = get_store(store)
    require_deployment(name, store)
    now = time.time()
    store.retrying(
        lambda tx: tx.execute(
            "UPDATE orch_deployments SET paused = ?, updated = ?, "
            "resumed = CASE WHEN ? = 0 THEN ? ELSE resumed END WHERE name = ?",
            (int(paused), now, int(paused), now, name),
        ),
        idempotent=True,
    )


def delete_deployment(name: str, store: Store | None = None) -> None:
    """Forget a deployment and its slot records (its flow runs stay in the run history)."""
    store = get_store(store)
    require_deployment(name, store)

    def work(tx: Tx) -> None:
        tx.execute("DELETE FROM orch_deployment_slots WHERE deployment = ?", (name,))
        tx.execute("DELETE FROM orch_deployments WHERE name = ?", (name,))

    store.retrying(work, idempotent=True)


# --- run requests and slots ------------------------------------------------------------------
def request_run(
    name: str, parameters: dict[str, Any] | None = None, store: Store | None = None
) -> dict[str, Any]:
    """Queue a run of deployment ``name`` now, for a live server to pick up; returns the
    request's slot row (``servers`` lists the live servers of the deployment: empty means
    the request waits until one starts).

    Example:
        >>> from orch.schedules import Interval
        >>> _ = save_deployment(Deployment("doc-request", schedule=Interval(3600)))
        >>> request_run("doc-request", {"day": "2026-11-30"})["state"]
        'requested'
    """
    store = get_store(store)
    require_deployment(name, store)
    now = time.time()
    key = f"manual-{uuid.uuid4().hex[:12]}"
    row = (name, key, 0, now, "manual", "requested", json.dumps(parameters or {}), now)
    store.retrying(
        lambda tx: tx.execute(
            "INSERT INTO orch_deployment_slots (deployment, slot_key, attempt, slot, kind, "
            "state, parameters, claimed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
    )
    found = get_slot(name, key, 0, store)
    assert found is not None
    found["servers"] = [s["id"] for s in live_servers(store) if name in s["deployments"]]
    return found


def _slot_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [c.strip() for c in SLOT_COLUMNS.split(",")]
    d = dict(zip(keys, row, strict=True))
    d["parameters"] = json.loads(d["parameters"]) if d["parameters"] else {}
    return d


def get_slot(
    name: str, key: str, attempt: int, store: Store | None = None
) -> dict[str, Any] | None:
    """One slot row (None when there is none)."""
    store = get_store(store)
    row = store.retrying(
        lambda tx: tx.execute(
            f"SELECT {SLOT_COLUMNS} FROM orch_deployment_slots "
            "WHERE deployment = ? AND slot_key = ? AND attempt = ?",
            (name, key, attempt),
        ).fetchone(),
        write=False,
    )
    return None if row is None else _slot_dict(row)


def list_slots(name: str, limit: int = 20, store: Store | None = None) -> list[dict[str, Any]]:
    """A deployment's latest slot rows, newest first (for ``orch deployments inspect``).

    Example:
        >>> list_slots("no-such-deployment")
        []
    """
    store = get_store(store)
    rows = store.retrying(
        lambda tx: tx.execute(
            f"SELECT {SLOT_COLUMNS} FROM orch_deployment_slots WHERE deployment = ? "
            "ORDER BY slot DESC, attempt DESC LIMIT ?",
            (name, int(limit)),
        ).fetchall(),
        write=False,
    )
    return [_slot_dict(r) for r in rows]


# --- servers ---------------------------------------------------------------------------------
def stale_after() -> float:
    """Seconds without a heartbeat after which a server counts as dead."""
    return 3 * heartbeat_seconds() + 5


def live_servers(store: Store | None = None) -> list[dict[str, Any]]:
    """The servers that are alive now (heartbeat fresh, process not gone on this host).

    Example:
        >>> isinstance(live_servers(), list)
        True
    """
    store = get_store(store)
    rows = store.retrying(
        lambda tx: tx.execute(
            "SELECT id, host, pid, started, heartbeat, deployments, stopping FROM orch_servers"
        ).fetchall(),
        write=False,
    )
    now = time.time()
    out = []
    for sid, host, pid, started, beat, names, stopping in rows:
        if gone_here(host, pid) or now - float(beat) > stale_after():
            continue
        out.append(
            {
                "id": sid,
                "host": host,
                "pid": pid,
                "started": started,
                "heartbeat": beat,
                "deployments": json.loads(names),
                "stopping": bool(stopping),
            }
        )
    return out


def server_dead(host: str | None, pid: int | None, beat: float | None, now: float) -> bool:
    """Whether a server row (or its absence: ``beat`` None) means a dead server."""
    return beat is None or gone_here(host, pid) or now - float(beat) > stale_after()


__all__ = [
    "ACTIVE",
    "HOST",
    "SCHEMA",
    "delete_deployment",
    "get_deployment",
    "get_slot",
    "list_deployments",
    "list_slots",
    "live_servers",
    "request_run",
    "require_deployment",
    "save_deployment",
    "set_paused",
    "slot_key",
]
