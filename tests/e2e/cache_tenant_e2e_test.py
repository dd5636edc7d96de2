"""Semantic caches under API keys, through the real server: the same cache name in two tenants
holds two caches (entries, stats, listings, Invalidate and ClearCache each see only their own);
a viewer reads but does not write; policies bind cache keys (an entry's key for Put and
DeleteEntry, the prefix "" for Get, Invalidate and ClearCache) under the service name 'cache'.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from cache_e2e import CacheClient, axis  # noqa: E402
from sochdb.v1 import policy_pb2 as ppb  # noqa: E402
from sochdb.v1 import policy_pb2_grpc as ppb_grpc  # noqa: E402


class Tenants(unittest.TestCase):
    KEYS = {
        "alpha": ("sk_cache_alpha_0123456789", "alpha", "editor", "alpha-app"),
        "viewer": ("sk_cache_alpha_ro_012345", "alpha", "viewer", "alpha-ro"),
        "beta": ("sk_cache_beta_01234567890", "beta", "editor", "beta-app"),
    }

    @classmethod
    def setUpClass(cls):
        cls.server = sochdb_e2e.keyed_server(os.path.join(WORK, "tenants"), cls.KEYS.values(),
                                             ["--sync", "off"])
        cls.clients = {who: CacheClient(cls.server.address(), entry[0])
                       for who, entry in cls.KEYS.items()}

    @classmethod
    def tearDownClass(cls):
        for client in cls.clients.values():
            client.close()
        cls.server.stop()

    def assertRefused(self, code, pattern, fn, *args):
        with self.assertRaises(grpc.RpcError) as caught:
            fn(*args)
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        self.assertRegex(caught.exception.details(), pattern)

    def test_same_cache_name_in_two_tenants(self):
        a, b = self.clients["alpha"], self.clients["beta"]
        self.assertTrue(a.cache_put("answers", "q", "alpha's answer", axis(0)))
        self.assertIsNone(b.cache_get("answers", axis(0)))
        self.assertFalse(b.get("answers", query="q").hit)
        self.assertTrue(b.cache_put("answers", "q", "beta's answer", axis(0, dim=4)))
        self.assertEqual(a.cache_get("answers", axis(0)), "alpha's answer")
        self.assertEqual(b.cache_get("answers", axis(0, dim=4)), "beta's answer")
        self.assertEqual(b.invalidate("answers", ""), 1)
        self.assertEqual(a.cache_get("answers", axis(0)), "alpha's answer")
        self.assertFalse(b.delete_entry("answers", "q"))
        self.assertTrue(a.cache_put("alpha-only", "k", "v", axis(1)))
        self.assertIn("alpha-only", a.list())
        self.assertNotIn("alpha-only", b.list())
        self.assertFalse(b.clear("alpha-only"))
        self.assertEqual(a.stats("alpha-only").entry_count, 1)
        self.assertEqual(b.stats("alpha-only").entry_count, 0)
        # The viewer reads alpha's caches and writes none.
        v = self.clients["viewer"]
        self.assertEqual(v.cache_get("answers", axis(0)), "alpha's answer")
        for fn, args in [(v.cache_put, ("answers", "x", "y", axis(0))),
                         (v.invalidate, ("answers", "")), (v.delete_entry, ("answers", "q")),
                         (v.clear, ("answers",)), (v.configure, ("answers", 5))]:
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED,
                               "^Insufficient permissions. Required: Write, principal: alpha-ro$",
                               fn, *args)

    def test_policies_bind_cache_keys(self):
        a = self.clients["alpha"]
        channel, keyed = sochdb_e2e.keyed_channel(self.server.address(), self.KEYS["alpha"][0])
        policy = ppb_grpc.PolicyServiceStub(keyed)

        def register(name, pattern, trigger, **fields):
            r = policy.RegisterPolicy(ppb.RegisterPolicyRequest(policy=ppb.PolicyRule(
                name=name, pattern=pattern, trigger=trigger,
                default_action=ppb.POLICY_ACTION_DENY, **fields)))
            self.assertTrue(r.success, r)
            return r.policy_id

        try:
            self.assertTrue(a.cache_put("pol", "public", "p", axis(2)))
            register("no pii", "pii:*", ppb.POLICY_TRIGGER_BEFORE_WRITE,
                     expression="service == 'cache'")
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, "^Denied by policy: no pii$",
                               a.cache_put, "pol", "pii:ssn", "x", axis(3))
            self.assertTrue(a.cache_put("pol", "ok", "y", axis(3)))
            # A Get may return any entry of the cache: a read rule on any key refuses it.
            register("sealed", "secret*", ppb.POLICY_TRIGGER_BEFORE_READ)
            self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, "^Denied by policy: sealed$",
                               a.cache_get, "pol", axis(2))
        finally:
            for rule in policy.ListPolicies(ppb.ListPoliciesRequest()).policies:
                policy.DeletePolicy(ppb.DeletePolicyRequest(policy_id=rule.id))
            channel.close()
        self.assertEqual(a.cache_get("pol", axis(2)), "p")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
