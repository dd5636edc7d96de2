"""GraphService and GraphExtensionService end to end from Python, through the real server.

The SochDB docs' examples as scripts, sent the way the SDK's SochDBClient sends them: the
knowledge graph (sections 13 and "Knowledge Graph Example") and the smart home's time travel
(section 14). Then every RPC's contract and error channel (upstream's `error` texts in OK
answers), directions on a graph built to tell them apart, DeleteNode leaving no edge behind,
cycles and self-loops, bad input (INVALID_ARGUMENT naming the field and the limit), the
StreamEdges client stream. Tenants and policies are in graph_tenant_e2e_test.py, the 100k-edge
hub and deadlines in graph_hub_e2e_test.py, kill -9 in graph_crash_e2e_test.py.
"""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

from graph_e2e import (BOTH, IN, OUT, GraphCase, GraphClient, edge, node,  # noqa: E402
                       triple)
from sochdb.v1 import graph_extension_pb2 as xpb  # noqa: E402
from sochdb.v1 import graph_pb2 as gpb  # noqa: E402

HOUR_MS = 60 * 60 * 1000


def now_ms():
    return int(time.time() * 1000)


class DevServerCase(GraphCase):
    """One development-mode server for the class; each test works in its own namespace."""

    @classmethod
    def setUpClass(cls):
        work = os.path.join(WORK, cls.__name__)
        os.makedirs(work, exist_ok=True)
        cls.server = sochdb_e2e.Server(work, ["--sync", "off"]).start()
        cls.c = GraphClient(cls.server.address())

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        if cls.server.process.poll() is None:
            cls.server.stop()


class DocsExamples(DevServerCase):
    def test_knowledge_graph_example(self):
        c, ns = self.c, "kg"
        # The docs pass budget and size as numbers; properties are map<string, string>, so the
        # SDK (and any protobuf client) needs strings.
        self.assertTrue(c.add_node("alice", "person", {"role": "engineer", "level": "senior"},
                                   namespace=ns))
        self.assertTrue(c.add_node("bob", "person", {"role": "manager"}, namespace=ns))
        self.assertTrue(c.add_node("project_ai", "project",
                                   {"status": "active", "budget": "100000"}, namespace=ns))
        self.assertTrue(c.add_node("ml_team", "team", {"size": "5"}, namespace=ns))
        self.assertTrue(c.add_edge("alice", "works_on", "project_ai", {"role": "lead"},
                                   namespace=ns))
        self.assertTrue(c.add_edge("alice", "member_of", "ml_team", namespace=ns))
        self.assertTrue(c.add_edge("bob", "manages", "project_ai", namespace=ns))
        self.assertTrue(c.add_edge("bob", "leads", "ml_team", namespace=ns))

        # "Find all projects Alice works on."
        nodes, edges = c.traverse("alice", max_depth=1, namespace=ns)
        self.assertEqual(nodes[0].id, "alice")
        self.assertEqual(sorted(n.id for n in nodes), ["alice", "ml_team", "project_ai"])
        projects = [n for n in nodes if n.node_type == "project"]
        self.assertEqual([(p.id, p.properties) for p in projects],
                         [("project_ai", {"status": "active", "budget": "100000"})])
        self.assertEqual(sorted((e.from_id, e.edge_type, e.to_id, e.properties) for e in edges),
                         [("alice", "member_of", "ml_team", {}),
                          ("alice", "works_on", "project_ai", {"role": "lead"})])

        # "Who manages Alice's projects?" as the docs write it: Traverse follows outgoing edges
        # (upstream's rule), and "manages" points into the project, so the answer is empty.
        nodes, edges = c.traverse("project_ai", max_depth=1, namespace=ns)
        self.assertEqual([e.from_id for e in edges if e.edge_type == "manages"], [])
        # The question needs incoming edges: Traverse with direction BOTH...
        r = c.traverse_request(ns, "project_ai", max_depth=1, direction=BOTH)
        self.assertEqual([e.from_id for e in r.edges if e.edge_type == "manages"], ["bob"])
        self.assertEqual(sorted(n.id for n in r.nodes), ["alice", "bob", "project_ai"])
        # ... or GetEdges INCOMING of the project.
        r = c.get_edges(ns, "project_ai", IN, edge_type="manages")
        self.assertEqual([triple(e) for e in r.edges], [("bob", "manages", "project_ai")])

    def test_graph_operations_section(self):
        c, ns = self.c, "default"
        self.assertTrue(c.add_node("alice", "person",
                                   {"role": "engineer", "team": "ml", "level": "senior"}))
        self.assertTrue(c.add_node("project_x", "project",
                                   {"status": "active", "priority": "high"}))
        self.assertTrue(c.add_node("bob", "person", {"role": "manager", "team": "ml"}))
        self.assertTrue(c.add_edge("alice", "works_on", "project_x",
                                   {"role": "lead", "since": "2024-01"}))
        self.assertTrue(c.add_edge("alice", "reports_to", "bob"))
        self.assertTrue(c.add_edge("bob", "manages", "project_x"))

        nodes, edges = c.traverse("alice", max_depth=3, order="bfs")
        self.assertEqual(nodes[0].id, "alice")
        self.assertEqual(sorted(n.id for n in nodes), ["alice", "bob", "project_x"])
        self.assertLessEqual({("alice", "reports_to", "bob"), ("alice", "works_on", "project_x")},
                             {(e.from_id, e.edge_type, e.to_id) for e in edges})
        nodes, _ = c.traverse("alice", max_depth=3, order="dfs")
        self.assertEqual(sorted(n.id for n in nodes), ["alice", "bob", "project_x"])

        # Filtered traversal: project_x has no team "ml", so only bob joins alice.
        r = c.traverse_request(ns, "alice", max_depth=2, edge_types=["works_on", "reports_to"],
                               node_types=["person", "project"],
                               node_filter=json.dumps({"team": "ml"}))
        self.assertEqual([n.id for n in r.nodes], ["alice", "bob"])
        self.assertFalse(r.truncated)
        r = c.traverse_request(ns, "alice", max_depth=2, node_types=["project"])
        self.assertEqual([n.id for n in r.nodes], ["alice", "project_x"])

        r = c.shortest_path(ns, "alice", "project_y", max_depth=5)
        self.assertEqual((list(r.path), r.error),
                         ([], "No path found from 'alice' to 'project_y'"))
        r = c.neighbors(ns, "alice", OUT)
        self.assertEqual(sorted(n.id for n in r.nodes), ["bob", "project_x"])
        r = c.get_edge(ns, "alice", "works_on", "project_x")
        self.assertTrue(r.found)
        self.assertEqual(dict(r.edge.properties), {"role": "lead", "since": "2024-01"})
        r = c.delete_edge(ns, "alice", "works_on", "project_old")
        self.assertEqual((r.success, r.error), (False, "Edge not found"))
        self.assertTrue(c.add_node("old_node", "scratch"))
        self.assertTrue(c.add_edge("old_node", "links", "alice"))
        self.assertEqual(c.delete_node(ns, "old_node").success, True)
        self.assertEqual(c.all_edges(ns, "alice", IN), [])

    def test_smart_home_temporal_example(self):
        c, ns = self.c, "smart_home"
        now = now_ms()
        # The docs' confidence 0.95 is a number; the wire wants a string.
        self.assertTrue(c.add_temporal_edge(ns, "door_front", "STATE", "open",
                                            valid_from=now - HOUR_MS, valid_until=now,
                                            properties={"sensor": "motion_1",
                                                        "confidence": "0.95"}))
        self.assertTrue(c.add_temporal_edge(ns, "light_living", "STATE", "on", valid_from=now,
                                            valid_until=0,
                                            properties={"brightness": "80%", "color": "warm"}))
        # Intervals are half-open: the door's [now - 1h, now) has ended by the time we ask.
        edges = c.query_temporal_graph(ns, "door_front", mode="CURRENT", edge_types=["STATE"])
        self.assertEqual(edges[0].to_id if edges else "unknown", "unknown")
        edges = c.query_temporal_graph(ns, "door_front", mode="POINT_IN_TIME",
                                       timestamp=now - int(1.5 * HOUR_MS))
        self.assertFalse(any(e.to_id == "open" for e in edges))
        edges = c.query_temporal_graph(ns, "door_front", mode="POINT_IN_TIME",
                                       timestamp=now - HOUR_MS // 2)
        self.assertEqual([(e.to_id, e.properties["sensor"]) for e in edges],
                         [("open", "motion_1")])
        edges = c.query_temporal_graph(ns, "door_front", mode="RANGE",
                                       start_time=now - HOUR_MS, end_time=now)
        self.assertEqual([(e.to_id, e.valid_from, e.valid_until) for e in edges],
                         [("open", now - HOUR_MS, now)])
        edges = c.query_temporal_graph(ns, "light_living", mode="CURRENT")
        self.assertEqual([(e.to_id, e.valid_until, e.properties["brightness"]) for e in edges],
                         [("on", 0, "80%")])

        # Close the light's "on" state (the SDK's end_temporal_edge).
        while now_ms() <= now:
            time.sleep(0.002)
        end = now_ms()
        r = c.end_temporal_edge(ns, "light_living", "STATE", "on", end_time=end)
        self.assertEqual((r.success, r.error), (True, ""))
        self.assertEqual((triple(r.edge), r.edge.valid_from, r.edge.valid_until),
                         (("light_living", "STATE", "on"), now, end))
        self.assertEqual(c.query_temporal_graph(ns, "light_living", mode="CURRENT"), [])
        edges = c.query_temporal_graph(ns, "light_living", mode="POINT_IN_TIME", timestamp=now)
        self.assertEqual([(e.to_id, e.valid_until) for e in edges], [("on", end)])
        r = c.end_temporal_edge(ns, "light_living", "STATE", "on", end_time=end + 1)
        self.assertEqual((r.success, r.error),
                         (False, "No open temporal edge 'light_living' -[STATE]-> 'on'"))

        # A door's history, ordered by valid_from; incoming queries read it from the state.
        self.assertTrue(c.add_temporal_edge(ns, "door_front", "STATE", "closed", valid_from=now))
        edges = c.query_temporal_graph(ns, "door_front", mode="RANGE",
                                       start_time=now - 2 * HOUR_MS, end_time=now + HOUR_MS)
        self.assertEqual([e.to_id for e in edges], ["open", "closed"])
        edges = c.query_temporal_graph(ns, "door_front", mode="RANGE", start_time=now,
                                       end_time=now + 1)
        self.assertEqual([e.to_id for e in edges], ["closed"])
        r = c.graph.QueryTemporalGraph(gpb.QueryTemporalGraphRequest(
            namespace=ns, node_id="open", mode=gpb.TEMPORAL_QUERY_MODE_POINT_IN_TIME,
            timestamp=now - 1, direction=IN))
        self.assertEqual([triple(e) for e in r.edges], [("door_front", "STATE", "open")])
        r = c.graph.QueryTemporalGraph(gpb.QueryTemporalGraphRequest(
            namespace=ns, node_id="open", mode=gpb.TEMPORAL_QUERY_MODE_POINT_IN_TIME,
            timestamp=now - 1, direction=OUT))
        self.assertEqual(list(r.edges), [])
        # Temporal edges are their own set: never seen by GetEdges or Traverse.
        self.assertEqual(c.all_edges(ns, "door_front", BOTH), [])


class Contracts(DevServerCase):
    def test_error_channels_are_upstreams_texts_in_ok_answers(self):
        c, ns = self.c, "errors"
        r = c.graph.AddNode(gpb.AddNodeRequest(namespace=ns))
        self.assertEqual((r.success, r.error), (False, "Node is required"))
        r = c.graph.AddEdge(gpb.AddEdgeRequest(namespace=ns))
        self.assertEqual((r.success, r.error), (False, "Edge is required"))
        r = c.get_node(ns, "ghost")
        self.assertEqual((r.HasField("node"), r.error), (False, "Node 'ghost' not found"))
        r = c.delete_node(ns, "ghost")
        self.assertEqual((r.success, r.error), (False, "Node 'ghost' not found"))
        r = c.delete_edge(ns, "a", "knows", "b")
        self.assertEqual((r.success, r.error), (False, "Edge not found"))
        r = c.shortest_path(ns, "a", "b")
        self.assertEqual((list(r.path), list(r.edges), r.error),
                         ([], [], "No path found from 'a' to 'b'"))
        r = c.get_edge(ns, "a", "knows", "b")
        self.assertEqual((r.found, r.HasField("edge")), (False, False))
        r = c.traverse_request(ns, "ghost", max_depth=3)
        self.assertEqual((list(r.nodes), list(r.edges), r.error), ([], [], ""))
        self.assertEqual(c.get_edges(ns, "ghost", BOTH).error, "")

    def test_upserts_replace_and_reads_return_what_was_written(self):
        c, ns = self.c, "upsert"
        self.assertTrue(c.add_node("n", "person", {"a": "1", "b": "2"}, namespace=ns))
        self.assertTrue(c.add_node("n", "robot", {"c": "3"}, namespace=ns))
        r = c.get_node(ns, "n")
        self.assertEqual((r.node.id, r.node.node_type, dict(r.node.properties), r.error),
                         ("n", "robot", {"c": "3"}, ""))
        self.assertTrue(c.add_edge("n", "knows", "m", {"w": "1"}, namespace=ns))
        self.assertTrue(c.add_edge("n", "knows", "m", {"w": "2"}, namespace=ns))
        r = c.get_edges(ns, "n")
        self.assertEqual([(triple(e), dict(e.properties)) for e in r.edges],
                         [(("n", "knows", "m"), {"w": "2"})])
        # Endpoints need not exist as nodes; reads return the nodes that do.
        r = c.neighbors(ns, "n")
        self.assertEqual(([n.id for n in r.nodes], [triple(e) for e in r.edges]),
                         ([], [("n", "knows", "m")]))
        self.assertTrue(c.add_edge("m", "knows", "k", namespace=ns))
        self.assertTrue(c.add_node("k", "person", namespace=ns))
        r = c.traverse_request(ns, "n", max_depth=2)
        self.assertEqual([n.id for n in r.nodes], ["n", "k"])
        self.assertEqual([triple(e) for e in r.edges],
                         [("n", "knows", "m"), ("m", "knows", "k")])
        r = c.delete_edge(ns, "n", "knows", "m")
        self.assertEqual((r.success, r.error), (True, ""))
        self.assertEqual(c.get_edge(ns, "n", "knows", "m").found, False)
        self.assertEqual(c.all_edges(ns, "m", IN), [])

    def test_traverse_depth_order_and_shortest_paths(self):
        c, ns = self.c, "paths"
        # Fewest edges: a -> b -> d (weight 11); least weight: a -> x -> y -> d (3), not
        # a -> b -> c -> d (7).
        for from_id, to_id, w in (("a", "b", "1"), ("b", "c", "5"), ("c", "d", "1"),
                                  ("b", "d", "10"), ("a", "x", "1"), ("x", "y", "1"),
                                  ("y", "d", "1")):
            self.assertTrue(c.add_edge(from_id, "r", to_id, {"w": w}, namespace=ns))
        for n in "abcdxy":
            self.assertTrue(c.add_node(n, "n", namespace=ns))
        r = c.traverse_request(ns, "a", max_depth=0)
        self.assertEqual([n.id for n in r.nodes], ["a"])
        self.assertEqual(sorted(triple(e) for e in r.edges), [("a", "r", "b"), ("a", "r", "x")])
        r = c.traverse_request(ns, "a", max_depth=1)
        self.assertEqual([n.id for n in r.nodes], ["a", "b", "x"])
        r = c.traverse_request(ns, "a", max_depth=2, order=gpb.TRAVERSAL_ORDER_DFS)
        self.assertEqual(r.nodes[0].id, "a")
        self.assertEqual(sorted(n.id for n in r.nodes), ["a", "b", "c", "d", "x", "y"])
        r = c.shortest_path(ns, "a", "d", max_depth=5)
        self.assertEqual((list(r.path), r.total_weight, r.error), (["a", "b", "d"], 2, ""))
        self.assertEqual([triple(e) for e in r.edges], [("a", "r", "b"), ("b", "r", "d")])
        r = c.shortest_path(ns, "a", "d", max_depth=5, weight_property="w")
        self.assertEqual((list(r.path), r.total_weight), (["a", "x", "y", "d"], 3))
        r = c.shortest_path(ns, "a", "d", max_depth=1)
        self.assertEqual(r.error, "No path found from 'a' to 'd'")
        r = c.shortest_path(ns, "a", "a", max_depth=0)
        self.assertEqual((list(r.path), r.error), (["a"], ""))
        r = c.shortest_path(ns, "d", "a", max_depth=5)
        self.assertEqual(r.error, "No path found from 'd' to 'a'")
        r = c.shortest_path(ns, "d", "a", max_depth=5, direction=BOTH)
        self.assertEqual(list(r.path), ["d", "b", "a"])
        self.assertEqual([triple(e) for e in r.edges], [("b", "r", "d"), ("a", "r", "b")])

    def test_directions_on_a_graph_that_tells_them_apart(self):
        c, ns = self.c, "directions"
        edges = [edge("x", "t1", "a"), edge("x", "t2", "b"), edge("c", "t1", "x"),
                 edge("d", "t2", "x"), edge("x", "t3", "x"), edge("x", "t1", "e"),
                 edge("e", "t1", "x"), edge("a", "t9", "b")]
        self.assertEqual(c.add_edges(ns, edges), len(edges))
        self.assertEqual(c.add_nodes(ns, [node(n, "n") for n in "abcdex"]), 6)
        out = {("x", "t1", "a"), ("x", "t2", "b"), ("x", "t3", "x"), ("x", "t1", "e")}
        inc = {("c", "t1", "x"), ("d", "t2", "x"), ("x", "t3", "x"), ("e", "t1", "x")}
        self.assertCountEqual(c.all_edges(ns, "x", OUT), out)
        self.assertCountEqual(c.all_edges(ns, "x", IN), inc)
        # BOTH: each edge once, the self-loop too.
        self.assertCountEqual(c.all_edges(ns, "x", BOTH), out | inc)
        r = c.get_edges(ns, "x", IN, edge_type="t1")
        self.assertCountEqual([triple(e) for e in r.edges], [("c", "t1", "x"), ("e", "t1", "x")])
        for node_id, direction, expected in (("a", OUT, ["b"]), ("a", IN, ["x"]),
                                             ("a", BOTH, ["b", "x"]), ("b", IN, ["a", "x"]),
                                             ("b", OUT, [])):
            r = c.neighbors(ns, node_id, direction)
            self.assertEqual(sorted(n.id for n in r.nodes), expected, (node_id, direction))
        r = c.neighbors(ns, "c", BOTH, edge_types=["t1"])
        self.assertEqual([n.id for n in r.nodes], ["x"])
        r = c.traverse_request(ns, "x", max_depth=1, direction=IN)
        self.assertEqual(sorted(n.id for n in r.nodes), ["c", "d", "e", "x"])
        r = c.traverse_request(ns, "c", max_depth=1, direction=OUT)
        self.assertEqual(sorted(n.id for n in r.nodes), ["c", "x"])
        r = c.traverse_request(ns, "c", max_depth=1, direction=IN)
        self.assertEqual([n.id for n in r.nodes], ["c"])
        r = c.shortest_path(ns, "a", "c", max_depth=4)
        self.assertEqual(r.error, "No path found from 'a' to 'c'")
        r = c.shortest_path(ns, "a", "c", max_depth=4, direction=IN)
        self.assertEqual(list(r.path), ["a", "x", "c"])
        self.assertEqual([triple(e) for e in r.edges], [("x", "t1", "a"), ("c", "t1", "x")])

    def test_delete_node_leaves_no_edge_touching_it(self):
        c, ns = self.c, "delete-node"
        edges = ([edge("z", "out", "n%d" % i) for i in range(6)] +
                 [edge("n%d" % i, "in", "z") for i in range(3, 9)] +
                 [edge("z", "self", "z"), edge("n1", "keep", "n2")])
        self.assertEqual(c.add_edges(ns, edges), len(edges))
        self.assertEqual(c.add_nodes(ns, [node("z", "hub")] +
                                     [node("n%d" % i, "leaf") for i in range(9)]), 10)
        self.assertTrue(c.add_temporal_edge(ns, "z", "was", "n0", valid_from=1))
        self.assertTrue(c.add_temporal_edge(ns, "n8", "was", "z", valid_from=1))
        self.assertEqual(c.delete_node(ns, "z").success, True)
        self.assertEqual(c.get_node(ns, "z").error, "Node 'z' not found")
        self.assertEqual(c.all_edges(ns, "z", BOTH), [])
        for i in range(9):
            neighbour = "n%d" % i
            touching = [t for t in c.all_edges(ns, neighbour, BOTH) if "z" in (t[0], t[2])]
            self.assertEqual(touching, [], neighbour)
            r = c.graph.QueryTemporalGraph(gpb.QueryTemporalGraphRequest(
                namespace=ns, node_id=neighbour, mode=gpb.TEMPORAL_QUERY_MODE_RANGE,
                start_time=0, end_time=2**62, direction=BOTH))
            self.assertEqual(list(r.edges), [], neighbour)
        for e in edges[:-1]:
            self.assertFalse(c.get_edge(ns, *triple(e)).found, triple(e))
        self.assertTrue(c.get_edge(ns, "n1", "keep", "n2").found)
        self.assertEqual(c.delete_node(ns, "z").error, "Node 'z' not found")
        # An id with edges but no node record is deleted too (its edges were there to remove).
        self.assertTrue(c.add_edge("loose", "to", "n1", namespace=ns))
        self.assertEqual(c.delete_node(ns, "loose").success, True)
        self.assertEqual(c.all_edges(ns, "n1", IN), [])

    def test_cycles_and_self_loops(self):
        c, ns = self.c, "cycles"
        ring = ["r%02d" % i for i in range(50)]
        edges = [edge(a, "next", b) for a, b in zip(ring, ring[1:] + ring[:1])]
        edges += [edge(a, "self", a) for a in ring]
        self.assertEqual(c.add_edges(ns, edges), 100)
        self.assertEqual(c.add_nodes(ns, [node(n, "ring") for n in ring]), 50)
        for order in (gpb.TRAVERSAL_ORDER_BFS, gpb.TRAVERSAL_ORDER_DFS):
            r = c.traverse_request(ns, "r00", max_depth=1000, order=order)
            self.assertEqual([n.id for n in r.nodes], ring)  # each once, around the ring
            self.assertEqual([triple(e) for e in r.edges], [triple(e) for e in edges[:49]])
            self.assertFalse(r.truncated)
        r = c.traverse_request(ns, "r00", max_depth=1000, direction=BOTH)
        self.assertEqual(sorted(n.id for n in r.nodes), ring)
        # Where the two ways round meet, an edge into a node discovered but not yet visited may
        # be listed from both sides: 49 or 50 edges, none of them a self-loop.
        self.assertIn(len(r.edges), (49, 50))
        self.assertLessEqual({triple(e) for e in r.edges}, {triple(e) for e in edges[:50]})
        self.assertEqual(len(c.shortest_path(ns, "r00", "r49", max_depth=49).path), 50)
        self.assertEqual(c.shortest_path(ns, "r00", "r49", max_depth=48).error,
                         "No path found from 'r00' to 'r49'")
        self.assertEqual(list(c.shortest_path(ns, "r00", "r49", max_depth=1,
                                              direction=BOTH).path), ["r00", "r49"])
        self.assertCountEqual(c.all_edges(ns, "r07", BOTH),
                              [("r07", "next", "r08"), ("r06", "next", "r07"),
                               ("r07", "self", "r07")])

    def test_stream_edges_commits_each_message_alone(self):
        c, ns = self.c, "stream"
        messages = [xpb.AddEdgesRequest(namespace=ns, edges=[edge("s", "t", "a%d" % i)
                                                             for i in range(100)]),
                    xpb.AddEdgesRequest(edges=[edge("s", "t", "b%d" % i) for i in range(50)]),
                    xpb.AddEdgesRequest(edges=[edge("s", "u", "c")])]
        self.assertEqual(c.ext.StreamEdges(iter(messages)).added_count, 151)
        self.assertEqual(len(c.all_edges(ns, "s")), 151)
        self.assertEqual(len(c.all_edges(ns, "b7", IN)), 1)
        # The second message has a bad edge: the first stays, none of the second lands.
        bad = [xpb.AddEdgesRequest(namespace=ns, edges=[edge("p", "t", "ok%d" % i)
                                                        for i in range(10)]),
               xpb.AddEdgesRequest(edges=[edge("p", "t", "no1"), edge("p", "", "no2")])]
        self.assertInvalid(r"edges\[1\]\.edge_type", c.ext.StreamEdges, iter(bad))
        self.assertEqual(sorted(t[2] for t in c.all_edges(ns, "p")),
                         sorted("ok%d" % i for i in range(10)))
        # One stream writes one namespace: a later message naming another is refused.
        switch = [xpb.AddEdgesRequest(namespace=ns, edges=[edge("q", "t", "first")]),
                  xpb.AddEdgesRequest(namespace="elsewhere", edges=[edge("q", "t", "second")])]
        self.assertInvalid(r"namespace", c.ext.StreamEdges, iter(switch))
        self.assertEqual(c.all_edges(ns, "q"), [("q", "t", "first")])
        self.assertEqual(c.all_edges("elsewhere", "q"), [])


class BadInput(DevServerCase):
    def test_each_limit_is_invalid_argument_naming_the_field(self):
        c, ns = self.c, "bad"
        long_id = "x" * 1025

        def add_node(n):
            return c.graph.AddNode(gpb.AddNodeRequest(namespace=ns, node=n))

        def add_edge(e):
            return c.graph.AddEdge(gpb.AddEdgeRequest(namespace=ns, edge=e))

        self.assertInvalid(r"node\.id", add_node, node(""))
        self.assertInvalid(r"node\.id.*1,?024", add_node, node(long_id))
        self.assertInvalid(r"node\.id", add_node, node("a\x00b"))
        self.assertInvalid(r"node\.node_type.*256", add_node, node("n", "t" * 257))
        self.assertInvalid(r"node\.properties.*256", add_node,
                           node("n", **{"k%03d" % i: "v" for i in range(257)}))
        self.assertInvalid(r"node\.properties.*(65,?536|64 KiB)", add_node,
                           node("n", big="v" * (64 * 1024)))
        self.assertInvalid(r"node\.properties", add_node, node("n", **{"": "v"}))
        self.assertTrue(add_node(node("x" * 1024, "t" * 256)).success)  # at the limits
        self.assertTrue(add_node(node("n", **{"k%03d" % i: "v" for i in range(256)})).success)
        self.assertInvalid(r"edge\.from_id", add_edge, edge("", "t", "b"))
        self.assertInvalid(r"edge\.to_id.*1,?024", add_edge, edge("a", "t", long_id))
        self.assertInvalid(r"edge\.edge_type", add_edge, edge("a", "", "b"))
        self.assertInvalid(r"edge\.edge_type", add_edge, edge("a", "t\x00", "b"))
        self.assertInvalid(r"node_id", c.get_node, ns, "")
        self.assertInvalid(r"node_id.*1,?024", c.get_edges, ns, long_id)
        self.assertInvalid(r"start_node_id", c.traverse_request, ns, "")
        # Enum numbers the protocol does not define.
        self.assertInvalid(r"direction", c.get_edges, ns, "n", 7)
        self.assertInvalid(r"direction", c.neighbors, ns, "n", 3)
        self.assertInvalid(r"order", c.traverse_request, ns, "n", order=5)
        self.assertInvalid(r"direction", c.traverse_request, ns, "n", direction=9)
        self.assertInvalid(r"direction", c.shortest_path, ns, "a", "b", direction=4)
        self.assertInvalid(r"mode", c.graph.QueryTemporalGraph, gpb.QueryTemporalGraphRequest(
            namespace=ns, node_id="n", mode=9))
        # Caps a request may ask for.
        self.assertInvalid(r"max_depth.*1,?000", c.traverse_request, ns, "n", max_depth=1001)
        self.assertInvalid(r"max_depth.*1,?000", c.shortest_path, ns, "a", "b", max_depth=1001)
        self.assertInvalid(r"max_nodes.*100,?000", c.traverse_request, ns, "n", max_nodes=100001)
        self.assertInvalid(r"max_edges.*100,?000", c.traverse_request, ns, "n", max_edges=100001)
        self.assertInvalid(r"node_filter", c.traverse_request, ns, "n", node_filter="{not json")
        self.assertInvalid(r"node_filter", c.traverse_request, ns, "n",
                           node_filter='{"a": {"$bogus": 1}}')
        self.assertInvalid(r"edges.*10,?000", c.add_edges, ns,
                           [edge("a", "t", "b%d" % i) for i in range(10001)])
        self.assertInvalid(r"edges\[2\]\.from_id", c.add_edges, ns,
                           [edge("a", "t", "b"), edge("a", "t", "c"), edge("", "t", "d")])
        self.assertInvalid(r"nodes\[1\]\.id", c.add_nodes, ns, [node("ok"), node("")])
        self.assertInvalid(r"valid_until", c.add_temporal_edge, ns, "a", "t", "b",
                           valid_from=10, valid_until=10)
        self.assertInvalid(r"page_token", c.get_edges, ns, "n", page_token="garbage")
        # Nothing of a refused request was written.
        self.assertEqual(c.all_edges(ns, "a", BOTH), [])
        self.assertEqual(c.get_node(ns, "ok").error, "Node 'ok' not found")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
