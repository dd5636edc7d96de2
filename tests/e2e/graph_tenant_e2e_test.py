"""GraphService and GraphExtensionService under API keys, through the real server: two tenants'
graphs are separate even with the same node ids; a tenant can neither read nor write another's
namespace through any graph RPC (PERMISSION_DENIED with the standard text) and cannot switch a
StreamEdges call into it; a viewer reads but does not write; policies bind graph keys (node
"<id>", edge "<from>/<type>/<to>", "" for a traversal) and the condition name service == 'graph'.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from graph_e2e import BOTH, GraphCase, GraphClient, edge, node  # noqa: E402
from sochdb.v1 import graph_extension_pb2 as xpb  # noqa: E402
from sochdb.v1 import kv_pb2 as kpb  # noqa: E402
from sochdb.v1 import kv_pb2_grpc as kpb_grpc  # noqa: E402
from sochdb.v1 import policy_pb2 as ppb  # noqa: E402
from sochdb.v1 import policy_pb2_grpc as ppb_grpc  # noqa: E402


class Tenants(GraphCase):
    """A server with a key file: tenants alpha and beta (editors) and alpha's viewer."""

    KEYS = {
        "alpha": ("sk_graph_alpha_0123456789", "alpha", "editor", "alpha-app"),
        "viewer": ("sk_graph_alpha_ro_012345", "alpha", "viewer", "alpha-ro"),
        "beta": ("sk_graph_beta_01234567890", "beta", "editor", "beta-app"),
    }

    @classmethod
    def setUpClass(cls):
        cls.server = sochdb_e2e.keyed_server(os.path.join(WORK, "tenants"), cls.KEYS.values(),
                                             ["--sync", "off"])
        cls.clients = {who: GraphClient(cls.server.address(), entry[0])
                       for who, entry in cls.KEYS.items()}

    @classmethod
    def tearDownClass(cls):
        for client in cls.clients.values():
            client.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def test_same_ids_in_two_tenants_are_separate(self):
        a, b = self.clients["alpha"], self.clients["beta"]
        self.assertTrue(a.add_node("n1", "person", {"owner": "alpha"}, namespace="alpha/kg"))
        self.assertTrue(b.add_node("n1", "robot", {"owner": "beta"}, namespace="beta/kg"))
        self.assertTrue(a.add_edge("n1", "knows", "n2", namespace="alpha/kg"))
        self.assertEqual(dict(a.get_node("alpha/kg", "n1").node.properties), {"owner": "alpha"})
        self.assertEqual(dict(b.get_node("beta/kg", "n1").node.properties), {"owner": "beta"})
        self.assertEqual(b.all_edges("beta/kg", "n1", BOTH), [])
        self.assertEqual(a.all_edges("alpha/kg", "n1"), [("n1", "knows", "n2")])

    def test_another_tenant_can_neither_read_nor_write(self):
        a, b = self.clients["alpha"], self.clients["beta"]
        ns = "alpha/private"
        self.assertTrue(a.add_node("secret", "doc", {"v": "1"}, namespace=ns))
        self.assertTrue(a.add_edge("secret", "links", "other", namespace=ns))
        self.assertTrue(a.add_temporal_edge(ns, "secret", "was", "other", valid_from=1))
        denied = "^Access denied to namespace 'alpha/private' for tenant 'beta'$"
        calls = [
            (b.add_node, ("stolen", "x"), {"namespace": ns}),
            (b.add_edge, ("secret", "links", "stolen"), {"namespace": ns}),
            (b.traverse, ("secret",), {"namespace": ns}),
            (b.add_temporal_edge, (ns, "secret", "was", "stolen", 1), {}),
            (b.query_temporal_graph, (ns, "secret", "RANGE", None, 0, 2**62), {}),
            (b.get_node, (ns, "secret"), {}), (b.delete_node, (ns, "secret"), {}),
            (b.get_edges, (ns, "secret", BOTH), {}),
            (b.delete_edge, (ns, "secret", "links", "other"), {}),
            (b.shortest_path, (ns, "secret", "other"), {}),
            (b.neighbors, (ns, "secret", BOTH), {}),
            (b.get_edge, (ns, "secret", "links", "other"), {}),
            (b.end_temporal_edge, (ns, "secret", "was", "other"), {}),
            (b.add_nodes, (ns, [node("stolen")]), {}),
            (b.add_edges, (ns, [edge("secret", "t", "stolen")]), {}),
            (b.ext.StreamEdges, (iter([xpb.AddEdgesRequest(
                namespace=ns, edges=[edge("secret", "t", "stolen")])]),), {}),
        ]
        for call, args, kwargs in calls:
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, denied, call, *args, **kwargs)
        # A stream that starts in beta's namespace cannot switch to alpha's later.
        with self.assertRaises(grpc.RpcError) as caught:
            b.ext.StreamEdges(iter([
                xpb.AddEdgesRequest(namespace="beta", edges=[edge("s", "t", "u")]),
                xpb.AddEdgesRequest(namespace=ns, edges=[edge("secret", "t", "stolen2")])]))
        self.assertIn(caught.exception.code(), (grpc.StatusCode.PERMISSION_DENIED,
                                                grpc.StatusCode.INVALID_ARGUMENT))
        # Alpha's graph is as alpha left it.
        self.assertEqual(a.all_edges(ns, "secret", BOTH), [("secret", "links", "other")])
        self.assertEqual(a.get_node(ns, "stolen").error, "Node 'stolen' not found")
        self.assertEqual(a.all_edges(ns, "stolen", BOTH), [])
        self.assertEqual(len(a.query_temporal_graph(ns, "secret", "RANGE", None, 0, 2**62)), 1)
        # A viewer of alpha reads but does not write.
        v = self.clients["viewer"]
        self.assertEqual(v.get_node(ns, "secret").node.node_type, "doc")
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED,
                           "^Insufficient permissions. Required: Write, principal: alpha-ro$",
                           v.add_edge, "secret", "t", "x", namespace=ns)

    def test_policy_deny_on_graph_keys(self):
        a = self.clients["alpha"]
        channel, keyed = sochdb_e2e.keyed_channel(self.server.address(), self.KEYS["alpha"][0])
        policy = ppb_grpc.PolicyServiceStub(keyed)
        kv = kpb_grpc.KvServiceStub(keyed)
        ns = "alpha/guarded"
        self.assertTrue(a.add_edge("guarded", "knows", "x", namespace=ns))
        self.assertTrue(a.add_node("public", "doc", namespace=ns))

        def register(name, pattern, trigger, **fields):
            r = policy.RegisterPolicy(ppb.RegisterPolicyRequest(policy=ppb.PolicyRule(
                name=name, pattern=pattern, trigger=trigger,
                default_action=ppb.POLICY_ACTION_DENY, **fields)))
            self.assertTrue(r.success, r)
            return r.policy_id

        try:
            # Edge keys are <from>/<type>/<to>: a write rule over guarded/* refuses its edges.
            write = register("no guarded edges", "guarded/*", ppb.POLICY_TRIGGER_BEFORE_WRITE)
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED,
                               "^Denied by policy: no guarded edges$",
                               a.add_edge, "guarded", "knows", "y", namespace=ns)
            self.assertTrue(a.add_edge("open", "knows", "y", namespace=ns))
            self.assertFalse(a.get_edge(ns, "guarded", "knows", "y").found)
            # Traversals read every key of the namespace: a read rule on any key refuses them.
            read = register("no secrets", "secret*", ppb.POLICY_TRIGGER_BEFORE_READ)
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, "^Denied by policy: no secrets$",
                               a.traverse, "public", namespace=ns)
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, "^Denied by policy: no secrets$",
                               a.get_node, ns, "secret-1")
            self.assertEqual(a.get_node(ns, "public").node.node_type, "doc")
            # The condition name `service` is "graph" for graph calls.
            graph_only = register("graph frozen", "*", ppb.POLICY_TRIGGER_BEFORE_WRITE,
                                  expression="service == 'graph'")
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED,
                               "^Denied by policy: graph frozen$",
                               a.add_node, "n", "t", namespace=ns)
            self.assertTrue(kv.Put(kpb.KvPutRequest(namespace=ns, key=b"k", value=b"v")).success)
            for rule in (write, read, graph_only):
                policy.DeletePolicy(ppb.DeletePolicyRequest(policy_id=rule))
            nodes, _ = a.traverse("public", namespace=ns)
            self.assertEqual([n.id for n in nodes], ["public"])
        finally:
            for rule in policy.ListPolicies(ppb.ListPoliciesRequest()).policies:
                policy.DeletePolicy(ppb.DeletePolicyRequest(policy_id=rule.id))
            channel.close()


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
