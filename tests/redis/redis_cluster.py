"""A real Redis Cluster for the tests: three master nodes of the same ``redis-server`` binary.

:class:`LocalCluster` starts each node with ``cluster-enabled yes`` on a free loopback port
(its cluster bus on ``port + 10000``, which must be free too: Redis 6 has no ``cluster-port``),
with its files in a directory of its own, then builds the cluster the way ``redis-cli --cluster
create`` does, from Python: a distinct config epoch per node, an even third of the 16384 slots
each (``CLUSTER ADDSLOTS``; ``ADDSLOTSRANGE`` needs Redis 7), ``CLUSTER MEET`` from the first
node to the others. It then polls every node (no fixed sleep) until each says
``cluster_state:ok`` with all slots assigned, knows all three nodes, and maps the slot ranges
to the same nodes as every other node, failing after :data:`CONVERGE_TIMEOUT` seconds.
"""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.crc import key_slot
from redis_helpers import PortTaken, launch_server, log_tail, stop_server

SLOTS = 16384
CONVERGE_TIMEOUT = 60.0

__all__ = ["CONVERGE_TIMEOUT", "SLOTS", "ClusterNode", "LocalCluster", "key_slot"]


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _cluster_port(taken: set[int]) -> int:
    """A loopback port free for the node and for its bus (``port + 10000``)."""
    for _ in range(1000):
        port = random.randrange(20000, 55000)
        if not {port, port + 10000} & taken and _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free pair of loopback ports (port, port + 10000)")


class ClusterNode:
    """One ``redis-server`` started as a cluster node (a master, once given slots)."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        """A plain (not cluster-aware) client of this node only."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)

    def start(self) -> bool:
        """Start the node and wait until it answers ``PING``; ``False`` if its ports were
        taken meanwhile (the caller picks others)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        options = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "15000",
            "--appendonly", "no",
        ]  # fmt: skip
        try:
            self.process = launch_server(self.directory, self.port, options)
        except PortTaken:
            return False
        return True

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_server(process)

    def log_tail(self) -> str:
        return log_tail(self.directory)


class LocalCluster:
    """Three master nodes, each owning a third of the slots (see the module)."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.directory = directory
        self.size = size
        self.nodes: list[ClusterNode] = []

    @property
    def url(self) -> str:
        """The URL of the first node (a cluster client discovers the others from it)."""
        return self.nodes[0].url

    def ranges(self) -> list[tuple[int, int]]:
        """The slot range (first, last) of each node, in node order."""
        bounds = [SLOTS * n // self.size for n in range(self.size + 1)]
        return [(bounds[n], bounds[n + 1] - 1) for n in range(self.size)]

    def node_of_slot(self, slot: int) -> int:
        """The index of the node that owns ``slot``."""
        return next(n for n, (low, high) in enumerate(self.ranges()) if low <= slot <= high)

    def node_of_key(self, key: str) -> int:
        """The index of the node that owns ``key``'s slot (hash tags honoured)."""
        return self.node_of_slot(key_slot(key.encode()))

    def start(self) -> None:
        taken: set[int] = set()
        try:
            for number in range(self.size):
                for attempt in range(5):
                    port = _cluster_port(taken)
                    node = ClusterNode(self.directory / f"node{number}-{attempt}", port)
                    if node.start():
                        taken |= {port, port + 10000}
                        self.nodes.append(node)
                        break
                else:
                    raise RuntimeError("could not start a cluster node: its ports kept being taken")
            self._build()
            self.wait_converged()
        except BaseException:
            self.stop()
            raise

    def _build(self) -> None:
        clients = [node.client() for node in self.nodes]
        try:
            for epoch, (client, (low, high)) in enumerate(
                zip(clients, self.ranges(), strict=True), start=1
            ):
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
                client.execute_command("CLUSTER", "ADDSLOTS", *range(low, high + 1))
            for node in self.nodes[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        finally:
            for client in clients:
                client.close()

    def wait_converged(self, limit: float = CONVERGE_TIMEOUT) -> None:
        """Poll every node until the cluster is ok and every node agrees on who owns what."""
        expected = {
            (low, high, node.port)
            for (low, high), node in zip(self.ranges(), self.nodes, strict=True)
        }
        clients = [node.client() for node in self.nodes]
        views: list[object] = []
        try:
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline:
                views = [self._view(client) for client in clients]
                if all(view == ("ok", self.size, expected) for view in views):
                    return
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()
        raise RuntimeError(f"the cluster did not converge within {limit} s: {views}")

    @staticmethod
    def _view(client: redis.Redis) -> tuple[str, int, set[tuple[int, int, int]]]:
        """What one node says: its state, how many nodes it knows, its slot map."""
        info = client.execute_command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
        slots = client.execute_command("CLUSTER", "SLOTS")
        owners = {(int(row[0]), int(row[1]), int(row[2][1])) for row in slots}
        state = fields.get("cluster_state", "?")
        if fields.get("cluster_slots_assigned") != str(SLOTS):
            state = "incomplete"
        return state, int(fields.get("cluster_known_nodes", 0)), owners

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    @classmethod
    @contextlib.contextmanager
    def running(cls, directory: Path) -> Iterator[LocalCluster]:
        """A started cluster, stopped on exit."""
        cluster = cls(directory)
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
