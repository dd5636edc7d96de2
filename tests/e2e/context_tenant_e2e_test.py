"""ContextService and ContextExtensionService under API keys, through the real server: two
tenants' memories are separate even with the same episode ids; a tenant can neither read nor
write another's namespace through any context call, and a context query that names one foreign
namespace among its sections is refused whole, before any of its sections writes; a viewer
reads but does not ingest; policies bind what a context query reads (a KV key as the service
"kv", episodes as "context"), and a redacting rule rewrites the KV values a query renders as it
rewrites a KV Get's.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from context_e2e import GET, LAST, SEARCH, ContextClient, literal, section  # noqa: E402
from sochdb.v1 import kv_pb2 as kpb  # noqa: E402
from sochdb.v1 import kv_pb2_grpc as kpb_grpc  # noqa: E402
from sochdb.v1 import policy_pb2 as ppb  # noqa: E402
from sochdb.v1 import policy_pb2_grpc as ppb_grpc  # noqa: E402


class Tenants(unittest.TestCase):
    KEYS = {
        "alpha": ("sk_ctx_alpha_0123456789ab", "alpha", "editor", "alpha-app"),
        "viewer": ("sk_ctx_alpha_ro_0123456", "alpha", "viewer", "alpha-ro"),
        "beta": ("sk_ctx_beta_0123456789abc", "beta", "editor", "beta-app"),
    }

    @classmethod
    def setUpClass(cls):
        cls.server = sochdb_e2e.keyed_server(os.path.join(WORK, "tenants"), cls.KEYS.values(),
                                             ["--sync", "off"])
        cls.clients = {who: ContextClient(cls.server.address(), entry[0])
                       for who, entry in cls.KEYS.items()}

    @classmethod
    def tearDownClass(cls):
        for client in cls.clients.values():
            client.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def assertRefused(self, code, pattern, fn, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as caught:
            fn(*args, **kwargs)
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        self.assertRegex(caught.exception.details(), pattern)

    def test_same_ids_in_two_tenants_are_separate(self):
        a, b = self.clients["alpha"], self.clients["beta"]
        ida = a.write("alpha/mem", "alpha remembers the red door")
        idb = b.write("beta/mem", "beta remembers the blue door")
        self.assertEqual(ida, idb)  # both namespaces count from 1
        self.assertEqual(a.get_episode("alpha/mem", ida).text, "alpha remembers the red door")
        self.assertEqual(b.get_episode("beta/mem", idb).text, "beta remembers the blue door")
        r = b.query("beta/mem", [section("s", SEARCH, "door")], format="text")
        self.assertIn("blue", r.context)
        self.assertNotIn("red", r.context)

    def test_another_tenant_can_neither_read_nor_write(self):
        a, b = self.clients["alpha"], self.clients["beta"]
        ns = "alpha/private"
        eid = a.write(ns, "the launch code is 0000")
        denied = "^Access denied to namespace 'alpha/private' for tenant 'beta'$"
        calls = [
            (b.write, (ns, "stolen"), {}),
            (b.write_episode, (ns, "stolen"), {}),
            (b.get_episode, (ns, eid), {}),
            (b.list_episodes, (ns,), {}),
            (b.delete_episode, (ns, eid), {}),
            (b.query, (ns, [section("s", SEARCH, "launch")]), {}),
            (b.query, ("beta/x", [section("s", LAST, namespace=ns)]), {}),
            (b.query, ("beta/x", [section("s", GET, doc_id=eid, namespace=ns)]), {}),
            (b.query, ("beta/x", [section("s", GET, "key", namespace=ns)]), {}),
            (b.query, ("beta/x", [section("s", LAST, prefix="", namespace=ns)]), {}),
            (b.query_context, (ns, [{"name": "s", "type": SEARCH, "query": "launch"}]), {}),
        ]
        for call, args, kwargs in calls:
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, denied, call, *args, **kwargs)
        # A KV path names its namespace before its first '/'.
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED,
                           "^Access denied to namespace 'alpha' for tenant 'beta'$",
                           b.query, "beta/x", [section("s", GET, "alpha/key")])
        # One foreign section refuses the whole query before its ingest section writes.
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, denied, b.query, "beta/ingest", [
            section("in", GET, episode_text="must not land"),
            section("peek", SEARCH, "launch", namespace=ns)])
        self.assertEqual(b.list_episodes("beta/ingest"), [])
        # Literal sections read nothing: no namespace to own.
        r = b.query("alpha/private", [literal("SYSTEM", "hello")], format="text")
        self.assertEqual(r.context, "SYSTEM\n\nhello")
        self.assertEqual([e.text for e in a.list_episodes(ns)], ["the launch code is 0000"])
        v = self.clients["viewer"]
        self.assertEqual(v.get_episode(ns, eid).text, "the launch code is 0000")
        self.assertIn("0000", v.query(ns, [section("s", LAST)], format="text").context)
        write = "^Insufficient permissions. Required: Write, principal: alpha-ro$"
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, write, v.write, ns, "x")
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, write, v.query, ns,
                           [section("in", GET, episode_text="x")])
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, write, v.delete_episode, ns, eid)

    def test_policies_bind_what_a_query_reads(self):
        a = self.clients["alpha"]
        channel, keyed = sochdb_e2e.keyed_channel(self.server.address(), self.KEYS["alpha"][0])
        policy = ppb_grpc.PolicyServiceStub(keyed)
        kv = kpb_grpc.KvServiceStub(keyed)
        ns = "alpha/guarded"
        kv.Put(kpb.KvPutRequest(namespace=ns, key=b"secret-1", value=b"hidden"))
        kv.Put(kpb.KvPutRequest(namespace=ns, key=b"public", value=b"shown"))
        a.write(ns, "an episode")

        def register(name, pattern, trigger, action=ppb.POLICY_ACTION_DENY, **fields):
            r = policy.RegisterPolicy(ppb.RegisterPolicyRequest(policy=ppb.PolicyRule(
                name=name, pattern=pattern, trigger=trigger, default_action=action, **fields)))
            self.assertTrue(r.success, r)
            return r.policy_id

        try:
            register("no kv secrets", "secret*", ppb.POLICY_TRIGGER_BEFORE_READ,
                     expression="service == 'kv'")
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, "^Denied by policy: no kv",
                               a.query, ns, [section("s", GET, "secret-1", namespace=ns)])
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, "^Denied by policy: no kv",
                               a.query, ns, [section("s", LAST, prefix="")])
            r = a.query(ns, [section("s", GET, "public", namespace=ns)], format="text")
            self.assertIn("shown", r.context)
            self.assertIn("an episode", a.query(ns, [section("s", LAST)], format="text").context)
            register("memory frozen", "*", ppb.POLICY_TRIGGER_BEFORE_READ,
                     expression="service == 'context'")
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, "^Denied by policy: memory",
                               a.query, ns, [section("s", LAST)])
            # ContextExtensionService is "context" to policies too.
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, "^Denied by policy: memory",
                               a.list_episodes, ns)
            self.assertIn("shown", a.query(ns, [section("s", GET, "public", namespace=ns)],
                                           format="text").context)
            # A redacting rule: a context query renders what a KV Get answers, the replacement,
            # by GET and by LAST over a prefix; other keys stay as they are.
            register("mask", "public", ppb.POLICY_TRIGGER_AFTER_READ, ppb.POLICY_ACTION_ALLOW,
                     metadata={"redact": "***"})
            got = kv.Get(kpb.KvGetRequest(namespace=ns, key=b"public"))
            self.assertEqual(got.value, b"***")
            r = a.query(ns, [section("s", GET, "public", namespace=ns),
                             section("t", LAST, prefix="pub", namespace=ns)], format="json")
            doc = json.loads(r.context)
            self.assertEqual(doc["sections"][0]["value"], "***")
            self.assertEqual(doc["sections"][1]["entries"], [{"key": "public", "value": "***"}])
            self.assertNotIn("shown", r.context)
        finally:
            for rule in policy.ListPolicies(ppb.ListPoliciesRequest()).policies:
                policy.DeletePolicy(ppb.DeletePolicyRequest(policy_id=rule.id))
            channel.close()


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
