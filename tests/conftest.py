"""Shared fixtures: fake AWS credentials, the Connect simulator, and moto's S3 on loopback."""

from __future__ import annotations

import hashlib
import os

import pytest

# Never reach real AWS: fake credentials and a region before any client is made.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="connect-user-data-exporter",  # as in Lambda: must not leak into EMF dimensions
    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
)
os.environ.pop("AWS_PROFILE", None)

from connect_exporter.observability import logger  # noqa: E402
from simulator.server import ConnectSimulator, Faults  # noqa: E402


@pytest.fixture(autouse=True)
def _lambda_logs():
    """The CLI makes the shared logger human for its whole process (`use_human_logs`): a test that runs the CLI
    in-process must not change how the next test's handler logs."""
    formatter = logger.registered_handler.formatter
    yield
    logger.registered_handler.setFormatter(formatter)


@pytest.fixture
def connect_sim(monkeypatch):
    """Start a simulator over the given instances; the exporter's boto3 client is pointed at it."""
    started: list[ConnectSimulator] = []

    def start(
        instances,
        rate: float = 1000.0,
        burst: int = 1000,
        faults: Faults | None = None,
        quotas: dict[str, tuple[float, int]] | None = None,
    ) -> ConnectSimulator:
        sim = ConnectSimulator(list(instances), rate=rate, burst=burst, faults=faults, quotas=quotas)
        monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", sim.serve())
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch, request):
    """A fresh bucket on moto's S3; returns (client, bucket)."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    client = boto3.client("s3")
    # The test's name, shortened, and a hash of its whole id: parametrized cases never share a bucket.
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    bucket = (
        "snapshots-"
        + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:32].strip("-")
        + "-"
        + digest
    )
    client.create_bucket(Bucket=bucket)
    return client, bucket
