"""`layoutft parse --engine ray` on a real two-node Ray cluster started on this machine:
``ray start --head`` on 127.0.0.1 and a second ``ray start --address`` worker node, each
with its own raylet and worker processes, with token authentication as Ray sets it up.

The run must write what the local engine writes (result files byte for byte, manifest
records less their timing fields), with pages parsed on both nodes; after the whole cluster
is stopped and started again, the same command parses only what is new.

Slow (two Ray nodes start, twice): `.ci/run` runs it with ``-m slow``.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")

from layoutft.corpus import Manifest
from tests.test_distributed import entries, files, make_corpus, make_pdf

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

BIN = Path(sys.executable).parent
PARSE = ["parse", "corpus", "--dpi", "72", "--device", "cpu", "--quiet"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TwoNodeCluster:
    """A head node and a worker node, each a ``ray start --block`` process (SIGTERM stops
    the node and everything it started)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # token authentication, as a cluster others can reach should have: every process of
        # the cluster and every driver carries the same token
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []

    def start(self) -> None:
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "2", "--disable-usage-stats"]
        head = ["--head", "--port", str(self.port), "--include-dashboard", "false"]
        self._node("head", [*head, *common, "--block"])
        self._wait_for_nodes(1)
        self._node("worker", ["--address", self.address, *common, "--block"])
        self._wait_for_nodes(2)

    def _node(self, name: str, args: list[str]) -> None:
        log = open(self.folder / f"ray-{name}-{len(self.logs)}.log", "wb")  # noqa: SIM115
        self.logs.append(log)
        self.nodes.append(
            subprocess.Popen(
                [str(BIN / "ray"), "start", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
            )
        )

    def _wait_for_nodes(self, count: int, timeout: float = 120) -> None:
        probe = (
            f"import ray; ray.init(address={self.address!r}, logging_level='ERROR'); "
            "print(sum(1 for n in ray.nodes() if n['Alive']))"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                assert node.poll() is None, f"a Ray node exited: see {self.folder}/ray-*.log"
            done = subprocess.run(
                [sys.executable, "-c", probe], env=self.env, capture_output=True, text=True
            )
            lines = done.stdout.split()
            if done.returncode == 0 and lines and int(lines[-1]) >= count:
                return
            time.sleep(2)
        raise AssertionError(f"the Ray cluster did not reach {count} nodes in {timeout} s")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.terminate()
        for node in self.nodes:
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
        self.nodes = []
        for log in self.logs:
            log.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[TwoNodeCluster]:
    started = TwoNodeCluster(tmp_path)
    try:
        started.start()
        yield started
    finally:
        started.stop()


def layoutft(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "layoutft"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_a_two_node_cluster_writes_what_the_local_engine_writes(
    cluster: TwoNodeCluster, tmp_path: Path
) -> None:
    make_corpus(tmp_path / "corpus")
    make_pdf(tmp_path / "corpus" / "more" / "d.pdf", 4, "A Longer Paper")
    ray_args = ["--engine", "ray", "--address", cluster.address, "--ray-workers", "2"]

    # one torch thread, as each actor has (num_cpus=1): the same float sums, the same digits
    local = layoutft([*PARSE, "-o", "local"], tmp_path, {**cluster.env, "OMP_NUM_THREADS": "1"})
    assert local.returncode == 1, local.stderr  # bad.pdf
    remote = layoutft([*PARSE, "-o", "ray", *ray_args], tmp_path, cluster.env)
    assert remote.returncode == 1, remote.stderr
    assert "ray: 2 model workers on 2 nodes (cpu; the cluster has 4 CPUs" in remote.stderr
    assert "ray: pages parsed on 2 nodes" in remote.stderr
    assert "parsed 4 of 5 files, 10 pages" in remote.stderr, remote.stderr
    assert files(tmp_path / "ray") == files(tmp_path / "local")
    assert sorted(files(tmp_path / "ray")) == ["a.json", "more/d.json", "sub/b.json", "sub/c.json"]
    assert entries(Manifest(tmp_path / "ray")) == entries(Manifest(tmp_path / "local"))

    # a driver without the cluster's token is refused, in one line
    tokenless = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
    refused = layoutft([*PARSE, "-o", "ray", *ray_args], tmp_path, tokenless)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"Error: the Ray cluster at {cluster.address} refused this process: it uses token "
        "authentication; set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) "
        "as on its nodes"
    ), refused.stderr[-2000:]

    # the cluster goes down and comes back: the manifest in OUT is the state
    cluster.stop()
    cluster.start()
    make_pdf(tmp_path / "corpus" / "e.pdf", 1, "Added Later")
    again = layoutft([*PARSE, "-o", "ray", *ray_args], tmp_path, cluster.env)
    assert again.returncode == 1  # bad.pdf failed earlier: not done
    assert "parsed 1 file, 1 pages" in again.stderr, again.stderr
    assert "4 skipped (done earlier); 1 failed earlier" in again.stderr
    assert Manifest(tmp_path / "ray").entries["e.pdf"].status == "ok"
    assert files(tmp_path / "ray")["a.json"] == files(tmp_path / "local")["a.json"]
