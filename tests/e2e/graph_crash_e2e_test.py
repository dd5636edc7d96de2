"""kill -9 during bulk edge loading, then restart on the same data directory (--sync full and
normal): every acknowledged AddEdges batch is there with both entries (GetEdge finds each edge,
GetEdges INCOMING of its to_id lists it), no half-edge anywhere (the OUT edges of all nodes are
exactly their IN edges), and the batch in flight at the kill landed whole or not at all. And a
graph of nodes, edges and temporal edges read back the same after SIGTERM and kill -9, with a
DeleteNode acknowledged just before the kill staying done.
"""

import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from graph_e2e import (BIG_MESSAGES, BOTH, IN, OUT, GraphCase, GraphClient, edge,  # noqa: E402
                       triple)

NS = "crash"
NODES = ["v%03d" % i for i in range(500)]
BATCH = 1_000


def batch_edges(b):
    """Batch b's 1,000 edges, all distinct: edge i leaves NODES[i % 500] for a node that
    differs between i and i + 500 (the +1 of i // 500), typed by the batch."""
    return [edge(NODES[i % 500], "b%d" % b, NODES[(7 * i + i // 500 + b) % 500])
            for i in range(BATCH)]


class Writer(threading.Thread):
    """Sends batches 0, 1, 2, ... one AddEdges call at a time until a call fails."""

    def __init__(self, address):
        super().__init__(daemon=True)
        self.client = GraphClient(address)
        self.acked = []
        self.in_flight = None  # the batch whose call failed (the server died under it)

    def run(self):
        b = 0
        try:
            while True:
                self.in_flight = b
                count = self.client.add_edges(NS, batch_edges(b), timeout=30)
                assert count == BATCH, count
                self.acked.append(b)
                b += 1
        except grpc.RpcError:
            pass
        finally:
            self.client.close()


class KillDuringBulkLoad(GraphCase):
    def run_for(self, sync):
        work = os.path.join(WORK, sync)
        os.makedirs(work)
        server = sochdb_e2e.Server(work, ["--sync", sync]).start()
        writer = Writer(server.address())
        writer.start()
        deadline = time.time() + 30
        while len(writer.acked) < 15 and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(random.Random(sync).uniform(0, 0.02))  # land anywhere within a call
        server.stop(signal.SIGKILL)
        writer.join(timeout=30)
        self.assertFalse(writer.is_alive())
        self.assertGreaterEqual(len(writer.acked), 15)
        self.assertEqual(writer.acked, list(range(len(writer.acked))))
        server.start()
        c = GraphClient(server.address(), options=BIG_MESSAGES)
        try:
            self.check(c, writer.acked, writer.in_flight, sync)
        finally:
            c.close()
            server.stop()

    def check(self, c, acked, in_flight, sync):
        out_edges, in_edges = set(), set()
        for n in NODES:
            out_edges.update(c.all_edges(NS, n, OUT))
            in_edges.update(c.all_edges(NS, n, IN))
        # No half-edge: each out entry has its in entry and the other way round.
        self.assertEqual(out_edges - in_edges, set())
        self.assertEqual(in_edges - out_edges, set())
        expected = {triple(e) for b in acked for e in batch_edges(b)}
        self.assertEqual(expected - out_edges, set(), "acknowledged edges lost")
        flight = {triple(e) for e in batch_edges(in_flight)}
        landed = len(flight & out_edges)
        self.assertIn(landed, (0, BATCH), "the batch in flight landed in part")
        self.assertEqual(out_edges - expected - flight, set())  # nothing never sent
        # GetEdge finds acknowledged edges by their identity (a sample: all would take long).
        rng = random.Random(5)
        for t in rng.sample(sorted(expected), 300):
            r = c.get_edge(NS, *t)
            self.assertTrue(r.found, t)
            self.assertEqual(triple(r.edge), t)
        print("sync=%s: %d batches acknowledged, in-flight batch %d %s" % (
            sync, len(acked), in_flight, "landed" if landed else "absent"), file=sys.stderr)

    def test_sync_full(self):
        self.run_for("full")

    def test_sync_normal(self):
        self.run_for("normal")


class Restart(GraphCase):
    def snapshot(self, c):
        """Everything the tests wrote, as plain values."""
        nodes = {n: (r.node.node_type, dict(r.node.properties), r.error)
                 for n in ("alice", "bob", "carol") for r in [c.get_node("kept", n)]}
        edges = {n: sorted(c.all_edges("kept", n, BOTH)) for n in ("alice", "bob", "carol")}
        temporal = [(triple(e), e.valid_from, e.valid_until) for e in c.query_temporal_graph(
            "kept", "alice", "RANGE", start_time=0, end_time=2**62)]
        return nodes, edges, temporal

    def test_graph_survives_sigterm_and_kill9(self):
        work = os.path.join(WORK, "restart")
        os.makedirs(work)
        server = sochdb_e2e.Server(work).start()
        c = GraphClient(server.address())
        for n, kind in (("alice", "person"), ("bob", "person"), ("carol", "robot")):
            self.assertTrue(c.add_node(n, kind, {"name": n.title()}, namespace="kept"))
        self.assertEqual(c.add_edges("kept", [edge("alice", "knows", "bob", since="2020"),
                                              edge("bob", "knows", "carol"),
                                              edge("carol", "owns", "alice")]), 3)
        self.assertTrue(c.add_temporal_edge("kept", "alice", "at", "home", 1000, 2000))
        self.assertTrue(c.add_temporal_edge("kept", "alice", "at", "work", 2000))
        self.assertTrue(c.end_temporal_edge("kept", "alice", "at", "work", 3000).success)
        before = self.snapshot(c)
        c.close()
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        server.start()
        c = GraphClient(server.address())
        self.assertEqual(self.snapshot(c), before)
        self.assertTrue(c.delete_node("kept", "carol").success)
        after_delete = self.snapshot(c)
        self.assertEqual(after_delete[1]["carol"], [])
        c.close()
        server.stop(signal.SIGKILL)  # right after DeleteNode returned
        server.start()
        c = GraphClient(server.address())
        self.assertEqual(self.snapshot(c), after_delete)
        self.assertEqual(after_delete[0]["carol"][2], "Node 'carol' not found")
        c.close()
        self.assertEqual(server.stop(signal.SIGTERM), 0)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
