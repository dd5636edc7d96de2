"""A hub node with 100,000 edges through the real server: bulk loading with AddEdges (10,000 per
call), GetEdges and GetNeighbors paged, Traverse stopping at max_nodes or max_edges (truncated)
and failing with RESOURCE_EXHAUSTED at the server's caps when the client sets none, answers past
the page cap refused, and a 50 ms client deadline ending heavy traversals and path searches as
DEADLINE_EXCEEDED, the server dropping their work (its CPU goes quiet), while another client's
KV Get keeps answering promptly.
"""

import os
import statistics
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from graph_e2e import BIG_MESSAGES, BOTH, IN, GraphCase, GraphClient, edge, node  # noqa: E402
from sochdb.v1 import graph_pb2 as gpb  # noqa: E402
from sochdb.v1 import kv_pb2 as kpb  # noqa: E402
from sochdb.v1 import kv_pb2_grpc as kpb_grpc  # noqa: E402

NS = "hub"
LEAVES = ["leaf%06d" % i for i in range(100_000)]
BATCH = 10_000
CAP = 100_000  # GraphLimits: max_traversal_nodes, max_traversal_edges, max_page_edges
DEADLINE_S = 0.05
TREE_NODES = 45_000  # each of two binary trees; together under the visit cap


def tree_edges(prefix):
    """A binary tree of TREE_NODES ids <prefix>00000.., each pointing at its two children."""
    return [edge("%s%05d" % (prefix, i), "child", "%s%05d" % (prefix, c))
            for i in range(TREE_NODES) for c in (2 * i + 1, 2 * i + 2) if c < TREE_NODES]


def server_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Hub(GraphCase):
    @classmethod
    def setUpClass(cls):
        work = os.path.join(WORK, "hub")
        os.makedirs(work, exist_ok=True)
        cls.server = sochdb_e2e.Server(work, ["--sync", "normal"]).start()
        cls.c = GraphClient(cls.server.address(), options=BIG_MESSAGES)
        started = time.time()
        for i in range(0, len(LEAVES), BATCH):
            leaves = LEAVES[i:i + BATCH]
            assert cls.c.add_edges(NS, [edge("hub", "link", leaf) for leaf in leaves]) == BATCH
            assert cls.c.add_nodes(NS, [node(leaf, "leaf") for leaf in leaves]) == BATCH
        # One more edge of another type: 100,001 edges in all, one past the page cap.
        assert cls.c.add_edge("hub", "extra", "zz", namespace=NS)
        assert cls.c.add_node("hub", "hub", namespace=NS)
        # For the visit cap: two leaves of another type, and a tail of two beyond the last.
        assert cls.c.add_edges(NS, [edge(LEAVES[-1], "next", "tail"),
                                    edge("tail", "next", "tail2")]) == 2
        assert cls.c.add_nodes(NS, [node("leaf000000", "odd"), node("leaf000001", "odd"),
                                    node("tail", "leaf"), node("tail2", "leaf")]) == 4
        # Two trees for max_nodes and the deadline test: walks that read many small adjacency
        # lists. The first 2,048 nodes of tree a exist as nodes.
        for prefix in "ab":
            edges = tree_edges(prefix)
            for i in range(0, len(edges), BATCH):
                assert cls.c.add_edges(NS, edges[i:i + BATCH]) == len(edges[i:i + BATCH])
        assert cls.c.add_nodes(NS, [node("a%05d" % i, "tree") for i in range(2048)]) == 2048
        cls.load_s = time.time() - started
        print("loaded 190k edges and 102k nodes in %.2f s" % cls.load_s, file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def test_get_edges_paged(self):
        c, seen, token, pages = self.c, [], "", 0
        while True:
            r = c.get_edges(NS, "hub", edge_type="link", limit=BATCH, page_token=token)
            self.assertLessEqual(len(r.edges), BATCH)
            seen.extend(e.to_id for e in r.edges)
            token, pages = r.next_page_token, pages + 1
            if not token:
                break
        self.assertEqual(seen, LEAVES)  # every edge once, in (type, to) order
        self.assertIn(pages, (10, 11))
        self.assertEqual(c.all_edges(NS, "leaf054321", IN), [("hub", "link", "leaf054321")])
        # Exactly at the page cap an unpaged answer is fine; one past it is refused.
        self.assertEqual(len(c.get_edges(NS, "hub", edge_type="link").edges), CAP)
        err = self.assertRefused(grpc.StatusCode.RESOURCE_EXHAUSTED, r"100,?000",
                                 c.get_edges, NS, "hub")
        self.assertIn("limit", err.details())

    def test_get_neighbors_paged(self):
        c, seen, token = self.c, [], ""
        while True:
            r = c.neighbors(NS, "hub", limit=7_000, page_token=token)
            self.assertLessEqual(len(r.edges), 7_000)
            seen.extend(n.id for n in r.nodes)
            token = r.next_page_token
            if not token:
                break
        self.assertEqual(sorted(seen), LEAVES)  # zz is no node
        r = c.neighbors(NS, "leaf000007", BOTH)
        self.assertEqual([n.id for n in r.nodes], ["hub"])

    def test_traverse_stops_at_max_nodes_or_max_edges_and_says_so(self):
        # Breadth-first through tree a visits a00000, a00001, ... in order; each visited node
        # returns the edges to its two children.
        r = self.c.traverse_request(NS, "a00000", max_depth=1_000, max_nodes=1_000)
        self.assertEqual([n.id for n in r.nodes], ["a%05d" % i for i in range(1_000)])
        self.assertEqual((len(r.edges), r.truncated, r.error), (2_000, True, ""))
        # A visited node returns all its edges: the hub's 100,001 stop at max_edges.
        started = time.time()
        r = self.c.traverse_request(NS, "hub", max_depth=1, max_nodes=1_000, max_edges=1_000)
        took = time.time() - started
        self.assertEqual(([n.id for n in r.nodes], len(r.edges), r.truncated),
                         (["hub"], 1_000, True))
        self.assertLess(took, 2.0)
        # Limits past everything in reach: not truncated.
        r = self.c.traverse_request(NS, "leaf000001", max_depth=3, max_nodes=10, max_edges=10,
                                    direction=BOTH, edge_types=["extra"])
        self.assertEqual(([n.id for n in r.nodes], r.truncated), (["leaf000001"], False))

    def test_traverse_reaching_a_server_cap_unasked_is_resource_exhausted(self):
        # The hub's edges pass the cap on returned edges (max_edges 0).
        err = self.assertRefused(grpc.StatusCode.RESOURCE_EXHAUSTED, r"100,?000",
                                 self.c.traverse_request, NS, "hub", max_depth=1,
                                 max_nodes=1_000)
        self.assertIn("max_edges", err.details())
        # The visit cap needs 100,000 visited nodes with fewer than 100,000 returned edges and
        # one more node in reach: the hub's 99,998 "leaf" leaves (two are "odd"), then tail,
        # which makes 100,000 visited, and tail2 in reach (100,000 edges returned).
        ask = dict(max_depth=3, node_types=["leaf"])
        err = self.assertRefused(grpc.StatusCode.RESOURCE_EXHAUSTED, r"100,?000",
                                 self.c.traverse_request, NS, "hub", **ask)
        self.assertIn("max_nodes", err.details())
        r = self.c.traverse_request(NS, "hub", max_nodes=CAP, **ask)
        self.assertEqual((len(r.nodes), len(r.edges), r.truncated), (CAP, CAP, True))
        self.assertEqual((r.nodes[0].id, r.nodes[-2].id, r.nodes[-1].id),
                         ("hub", LEAVES[-1], "tail"))

    def test_deadline_ends_heavy_queries_and_other_callers_still_answer(self):
        heavy = [("traverse", heavy_traversal), ("path", heavy_path_search)]
        # Without a deadline each runs well past 50 ms (else this test proves nothing): 0.3-1.3 s
        # on a busy two-core machine; a fast one may take a few times less.
        for name, call in heavy:
            started = time.time()
            r = call(self.c)
            took = time.time() - started
            if name == "traverse":
                self.assertEqual((len(r.edges), r.truncated), (TREE_NODES - 1, False))
            else:
                self.assertEqual(r.error, "No path found from 'a00000' to 'b00000'")
            print("%s without a deadline: %.0f ms" % (name, took * 1000), file=sys.stderr)
            self.assertGreater(took, 2 * DEADLINE_S, name)

        pid = self.server.process.pid
        kv_channel = grpc.insecure_channel(self.server.address())
        kv = kpb_grpc.KvServiceStub(kv_channel)
        self.assertTrue(kv.Put(kpb.KvPutRequest(namespace=NS, key=b"k", value=b"v")).success)
        stop, codes = threading.Event(), []

        def storm(name, call):
            client = GraphClient(self.server.address(), options=BIG_MESSAGES)
            try:
                while not stop.is_set():
                    try:
                        call(client, timeout=DEADLINE_S)
                        codes.append((name, grpc.StatusCode.OK))
                    except grpc.RpcError as e:
                        codes.append((name, e.code()))
            finally:
                client.close()

        threads = [threading.Thread(target=storm, args=heavy[i % 2]) for i in range(4)]
        for t in threads:
            t.start()
        latencies = []
        storm_end = time.time() + 2.0
        while time.time() < storm_end:
            started = time.time()
            self.assertEqual(kv.Get(kpb.KvGetRequest(namespace=NS, key=b"k"), timeout=5).value,
                             b"v")
            latencies.append(time.time() - started)
            time.sleep(0.02)
        stop.set()
        for t in threads:
            t.join()
        self.assertGreater(len(codes), 8)
        self.assertEqual({code for _, code in codes}, {grpc.StatusCode.DEADLINE_EXCEEDED},
                         codes)
        self.assertEqual({name for name, _ in codes}, {"traverse", "path"})
        print("KV Get during the storm: median %.1f ms, max %.1f ms over %d calls; %d heavy "
              "calls cut" % (statistics.median(latencies) * 1000, max(latencies) * 1000,
                             len(latencies), len(codes)), file=sys.stderr)
        # Typically 2-10 ms; the worst of ~40 calls on a shared two-core machine, up to ~0.5 s.
        self.assertLess(statistics.median(latencies), 0.1)
        self.assertLess(max(latencies), 2.0)
        # The cut calls' work is dropped, so the server goes quiet at once. (Run to completion,
        # the calls already admitted keep a core about a third busy for seconds after.)
        time.sleep(0.2)
        before = server_cpu_seconds(pid)
        time.sleep(1.5)
        spent = server_cpu_seconds(pid) - before
        print("server CPU in the 1.5 s after the storm: %.2f s" % spent, file=sys.stderr)
        self.assertLess(spent, 0.15)
        kv_channel.close()


def heavy_traversal(client, **call):
    """All of tree a, both directions: 45,000 adjacency lists read."""
    return client.graph.Traverse(gpb.TraverseRequest(
        namespace=NS, start_node_id="a00000", max_depth=1_000, direction=BOTH), **call)


def heavy_path_search(client, **call):
    """A path between the two trees, which has none: both searched through before saying so."""
    return client.graph.ShortestPath(gpb.ShortestPathRequest(
        namespace=NS, from_id="a00000", to_id="b00000", max_depth=1_000, direction=BOTH),
        **call)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
