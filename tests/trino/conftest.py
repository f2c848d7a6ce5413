"""One Trino for the whole suite (its start costs half a minute), one synthesized stack whose Glue tables and
state machine it runs, and simulator snapshots crossing midnight under the lake's `snapshots/` prefix."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from simulator.history import export_history, history_filters
from simulator.world import build_instance
from tests.infrastructure.support import EXAMPLE, synth

from .athena import TrinoAthena
from .server import TrinoServer, free_port

UTC = dt.UTC
START = dt.datetime(2026, 11, 23, 22, 40, tzinfo=UTC)
MINUTES = 150  # to 01:09 on the 24th
SEED, AGENTS = 5, 60


@pytest.fixture(scope="session")
def trino_server(tmp_path_factory):
    server = TrinoServer(tmp_path_factory.mktemp("trino"), free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def instance_and_filters():
    instance = build_instance(seed=SEED, agents=AGENTS, routing_profiles=12, queues=20, epoch=START)
    return instance, history_filters(instance)[:3]


@pytest.fixture(scope="session")
def template(tmp_path_factory, instance_and_filters) -> dict:
    """The stack as deployed for the simulated instance: its Glue tables project this instance and its filters."""
    instance, filters = instance_and_filters
    config = json.loads(EXAMPLE.read_text())
    config["instances"] = [{"instance_id": instance.id, "filters": filters}]
    config["deployment"]["alarms"] = []
    # A day of history retention, so a daily run two days on has expired days to drop (the default is 400).
    config["deployment"]["history_retention_days"] = 1
    folder = tmp_path_factory.mktemp("synth")
    (folder / "config.json").write_text(json.dumps(config))
    return synth(folder, folder / "config.json").json


@pytest.fixture(scope="session")
def snapshots(trino_server, instance_and_filters) -> Path:
    """Two and a half hours of a moving center, written once where the raw table's location points."""
    build = build_instance(seed=SEED, agents=AGENTS, routing_profiles=12, queues=20, epoch=START)  # a fresh world
    _, filters = instance_and_filters
    root = trino_server.lake / "snapshots"
    reports = export_history(build, filters, START, MINUTES, root, lambda docs: 0)
    assert not [r.failures for r in reports if r.failures]
    return root


def deployed(trino_server: TrinoServer, template: dict) -> TrinoAthena:
    """A catalog as `cdk deploy` leaves it (the raw table and the bootstrap view), nothing compacted yet."""
    athena = TrinoAthena(trino_server.port, trino_server.lake / "metastore")
    athena.drop_all("connect_user_data")
    shutil.rmtree(trino_server.lake / "history", ignore_errors=True)  # the DuckDB lake's file beside Trino's tables
    athena.register(template)
    return athena


@pytest.fixture
def athena(trino_server, template, snapshots) -> TrinoAthena:
    return deployed(trino_server, template)
