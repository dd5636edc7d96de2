"""RetrievalService v2 (BindIndex, Retrieve, Ingest), RetrievalExtensionService.MintToken and
CapabilityService through the real server: each RPC's contract, the check order and status codes
of ../shared/UPSTREAM.md §1.2, tokens signed per §2.10 (forged, expired, too long-lived, wrong
index / tenant / operation / scope), bad input, and Ingest's applied set surviving a restart and
a kill -9 with batches in flight."""

import math
import os
import signal
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
import retrieval_e2e as rt  # noqa: E402
from sochdb.v1 import capability_pb2 as cpb  # noqa: E402
from sochdb.v1 import common_pb2  # noqa: E402
from sochdb.v1 import policy_pb2 as ppb  # noqa: E402
from sochdb.v1 import policy_pb2_grpc as ppb_grpc  # noqa: E402
from sochdb.v1 import retrieval_extension_pb2 as xpb  # noqa: E402
from sochdb.v1 import retrieval_pb2 as rpb  # noqa: E402
from sochdb.v1 import vector_index_pb2 as vpb  # noqa: E402

SEARCH, INGEST = rpb.RETRIEVAL_OPERATION_SEARCH, rpb.RETRIEVAL_OPERATION_INGEST
C = grpc.StatusCode
OID = (0, 42)


def uid(pair):
    return rpb.Uint128(high=pair[0], low=pair[1])


def version(major=2, minor=0):
    return rpb.RetrievalContractVersion(major=major, minor=minor)


def start(work, extra=()):
    key_file = rt.write_key_file(work)
    return sochdb_e2e.Server(work, ["--sync", "normal", "--retrieval-signing-key-file", key_file]
                             + list(extra)).start()


class Base(unittest.TestCase):
    TENANT = "default"

    def create(self, client, name, dim=4):
        r = client.vectors.CreateIndex(vpb.CreateIndexRequest(
            name=name, dimension=dim, metric=common_pb2.DISTANCE_METRIC_L2))
        self.assertTrue(r.success, r.error)

    def bind(self, client, name, oid=OID):
        r = client.retrieval.BindIndex(rpb.BindIndexRequest(index_object_id=uid(oid),
                                                             index_name=name))
        self.assertTrue(r.success, r.error)

    def mint(self, client, name, op, scope="", ttl_ms=0):
        return client.extension.MintToken(xpb.MintTokenRequest(
            index_name=name, operation=op, policy_scope_digest=scope, ttl_ms=ttl_ms)).token

    def ingest_req(self, token, ids, vectors, seq=0, oid=OID, **kw):
        return rpb.RetrievalIngestRequest(
            contract_version=version(), index_object_id=uid(oid), source_snapshot_id="snap",
            batch_sequence=seq, ids=[rpb.Uint128(low=i) for i in ids], vectors=vectors,
            capability=token, **kw)

    def retrieve_req(self, token, query, top_k=2, oid=OID, **kw):
        kw.setdefault("contract_version", version())
        return rpb.RetrievalRequest(
            query_id="q1", index_object_id=uid(oid),
            source_snapshot_id="snap-1", query_vectors=query, query_count=1, top_k=top_k,
            capability=token, **kw)


class Contract(Base):
    """One server (development mode) with a known signing key and index 'docs' bound to 42."""

    @classmethod
    def setUpClass(cls):
        cls.server = start(os.path.join(WORK, "contract"))
        cls.c = rt.RetrievalClient(cls.server.address())

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.server.stop()

    def setUp(self):
        self.name = self.id().split(".")[-1]
        self.create(self.c, self.name)
        self.oid = (0, abs(hash(self.name)) % (1 << 62) + 1)
        self.bind(self.c, self.name, self.oid)
        self.key = "%s:%s" % (self.TENANT, self.name)

    def ingest(self, ids, vectors, seq=0, token=None):
        token = token or rt.sign(rpb, self.key, self.TENANT, INGEST)
        return self.c.retrieval.Ingest(self.ingest_req(token, ids, vectors, seq, self.oid))

    def retrieve_status(self, token=None, query=(1, 0, 0, 0), **kw):
        token = token if token is not None else rt.sign(rpb, self.key, self.TENANT, SEARCH)
        return rt.status_of(self.c.retrieval.Retrieve,
                            self.retrieve_req(token, list(query), oid=self.oid, **kw))

    def test_capabilities_are_honest_and_valid(self):
        m = self.c.capabilities.GetCapabilities(cpb.GetCapabilitiesRequest())
        names = [d.name for d in m.capabilities]
        self.assertEqual(len(names), len(set(names)))
        self.assertIn("retrieval.protocol.v2", names)
        self.assertIn("kv.store", names)
        self.assertFalse(any(n.startswith("mcp") for n in names))  # McpService is not served
        for d in m.capabilities:
            self.assertNotEqual(d.maturity, cpb.CAPABILITY_MATURITY_UNSPECIFIED, d.name)
            self.assertEqual(d.durability, cpb.CAPABILITY_DURABILITY_DURABLE, d.name)
            self.assertGreaterEqual(len(d.guarantees), 1, d.name)
            if d.maturity >= cpb.CAPABILITY_MATURITY_PREVIEW:
                self.assertGreaterEqual(len(d.limits), 1, d.name)
        v2 = next(d for d in m.capabilities if d.name == "retrieval.protocol.v2")
        self.assertEqual((v2.contract_version.major, v2.contract_version.minor), (2, 0))
        self.assertEqual(v2.maturity, cpb.CAPABILITY_MATURITY_PREVIEW)
        self.assertEqual(m.server_version, "2.1.0")

    def test_bind_index_contract(self):
        bind = self.c.retrieval.BindIndex
        self.assertEqual(bind(rpb.BindIndexRequest(index_name=self.name)).error,
                         "index_object_id is required")
        self.assertEqual(bind(rpb.BindIndexRequest(index_object_id=uid((0, 0)),
                                                   index_name=self.name)).error,
                         "index_object_id must not be zero")
        self.assertEqual(bind(rpb.BindIndexRequest(index_object_id=uid((1, 5)),
                                                   index_name="nope")).error,
                         "Index 'nope' not found")
        self.create(self.c, self.name + "-other")
        r = bind(rpb.BindIndexRequest(index_object_id=uid(self.oid), index_name=self.name + "-other"))
        self.assertFalse(r.success)
        self.assertEqual(r.error, "object id is already bound to a different index ('%s')" % self.key)
        self.assertTrue(bind(rpb.BindIndexRequest(index_object_id=uid(self.oid),
                                                  index_name=self.name)).success)

    def test_ingest_then_retrieve(self):
        first = self.ingest([1, 2, 3], [1, 0, 0, 0, 0, 1, 0, 0, 0.9, 0.1, 0, 0])
        self.assertTrue(first.applied)
        self.assertEqual(first.inserted_count, 3)
        self.assertEqual(first.operation_id, rt.operation_id(self.oid, 0, "snap", 0))
        self.assertGreater(first.index_generation, 0)
        again = self.ingest([1, 2, 3], [1, 0, 0, 0, 0, 1, 0, 0, 0.9, 0.1, 0, 0])
        self.assertFalse(again.applied)
        self.assertEqual((again.operation_id, again.inserted_count, again.index_generation),
                         (first.operation_id, 3, first.index_generation))
        token = self.mint(self.c, self.name, SEARCH)  # MintToken's tokens verify
        r = self.c.retrieval.Retrieve(self.retrieve_req(token, [1, 0, 0, 0], oid=self.oid,
                                                        candidate_budget=1))
        self.assertEqual([c.id.low for c in r.candidates], [1, 3])
        self.assertEqual(r.candidates[0].distance, 0)
        self.assertEqual(r.index_generation, first.index_generation)
        self.assertEqual(r.searchable_watermark, first.index_generation)
        self.assertEqual((r.query_id, r.source_snapshot_id), ("q1", "snap-1"))
        self.assertTrue(r.approximate)
        self.assertEqual(r.recall_configuration, "hnsw;candidate_budget=2")
        self.assertEqual([s.name for s in r.stages], ["hnsw_search", "top_k"])
        self.assertTrue(any("candidate_budget 1 was below top_k 2" in w for w in r.warnings))
        self.assertEqual(r.evidence_digest, rt.evidence_digest(self.oid, r.index_generation,
                                                               "snap-1", r.candidates))
        # A pin on the current generation is served; on any other, ABORTED.
        pinned = self.retrieve_req(token, [1, 0, 0, 0], oid=self.oid,
                                   required_index_generation=r.index_generation)
        self.assertEqual(len(self.c.retrieval.Retrieve(pinned).candidates), 2)
        self.assertEqual(self.retrieve_status(required_index_generation=r.index_generation + 1)[0],
                         C.ABORTED)

    def test_token_refusals(self):
        self.ingest([1], [1, 0, 0, 0])
        sign = lambda **kw: rt.sign(rpb, **{**dict(index_key=self.key, tenant=self.TENANT,  # noqa
                                                   operation=SEARCH), **kw})
        forged = sign()
        forged.signature = bytes([forged.signature[0] ^ 1]) + forged.signature[1:]
        cases = [
            (rpb.RetrievalCapabilityToken(), C.UNAUTHENTICATED, "signature does not match"),
            (forged, C.UNAUTHENTICATED, "signature does not match"),
            (sign(key=b"another-key-of-at-least-32-bytes-long!"), C.UNAUTHENTICATED, "signature"),
            (sign(expires=rt.now_ms() - 1), C.UNAUTHENTICATED, "expired"),
            (sign(ttl_ms=301_000), C.UNAUTHENTICATED, "exceeds the maximum 300000ms"),
            (sign(index_key="default:other"), C.PERMISSION_DENIED, "grants index"),
            (sign(tenant="beta"), C.PERMISSION_DENIED, "issued to tenant 'beta'"),
            (sign(operation=INGEST), C.PERMISSION_DENIED, "does not grant this operation"),
            (sign(scope="s1"), C.PERMISSION_DENIED, "policy scope 's1'"),
        ]
        for token, code, text in cases:
            got = self.retrieve_status(token=token)
            self.assertEqual(got[0], code, got)
            self.assertIn(text, got[1])
        missing = rt.status_of(self.c.retrieval.Retrieve, rpb.RetrievalRequest(
            contract_version=version(), index_object_id=uid(self.oid), query_vectors=[1, 0, 0, 0],
            top_k=1))
        self.assertEqual(missing, (C.UNAUTHENTICATED, "no retrieval capability was presented"))
        # A SEARCH token cannot ingest.
        search = rt.sign(rpb, self.key, self.TENANT, SEARCH)
        self.assertEqual(rt.status_of(self.ingest, [2], [0, 1, 0, 0], 1, search)[0],
                         C.PERMISSION_DENIED)

    def test_check_order(self):
        no_token = rpb.RetrievalCapabilityToken()
        # contract before deadline before object id before binding before token.
        self.assertEqual(self.retrieve_status(token=no_token, contract_version=version(1, 0),
                                              deadline_unix_ms=1)[0], C.INVALID_ARGUMENT)
        self.assertEqual(self.retrieve_status(token=no_token, contract_version=version(2, 1))[0],
                         C.INVALID_ARGUMENT)
        r = rt.status_of(self.c.retrieval.Retrieve, rpb.RetrievalRequest(top_k=1))
        self.assertEqual(r, (C.INVALID_ARGUMENT, "malformed request: contract_version is required"))
        self.assertEqual(self.retrieve_status(token=no_token, deadline_unix_ms=1)[0],
                         C.DEADLINE_EXCEEDED)
        r = rt.status_of(self.c.retrieval.Retrieve, rpb.RetrievalRequest(
            contract_version=version(), top_k=1))
        self.assertEqual(r, (C.INVALID_ARGUMENT, "index_object_id is required"))
        unbound = rt.status_of(self.c.retrieval.Retrieve, self.retrieve_req(
            no_token, [1, 0, 0, 0], oid=(7, 7)))
        self.assertEqual(unbound[0], C.NOT_FOUND)
        self.assertIn("is not bound to any index", unbound[1])
        # A good token but a bad query: the query is checked after the token.
        self.assertEqual(self.retrieve_status(query=(1, 0, 0))[0], C.INVALID_ARGUMENT)

    def test_bad_input(self):
        self.ingest([1], [1, 0, 0, 0])
        self.assertEqual(self.retrieve_status(query=(1, 0, 0)),
                         (C.INVALID_ARGUMENT, "expected a 4-dimensional query, got 3 floats"))
        self.assertEqual(self.retrieve_status(top_k=0),
                         (C.INVALID_ARGUMENT, "top_k must be at least 1"))
        self.assertEqual(self.retrieve_status(top_k=20_000)[0], C.INVALID_ARGUMENT)
        self.assertEqual(self.retrieve_status(query=(math.nan, 0, 0, 0))[0], C.INVALID_ARGUMENT)
        bad = [([2], [0, 1, 0], "expected 4 floats for 1 vectors of dimension 4, got 3"),
               ([2], [math.nan, 1, 0, 0], "NaN"),
               ([2, 2], [0, 1, 0, 0] * 2, "duplicates"),
               (list(range(100_001)), [0.5] * 400_004, "the limit is 100000")]
        for seq, (ids, vectors, text) in enumerate(bad, start=10):
            code, details = rt.status_of(self.ingest, ids, vectors, seq)
            self.assertEqual(code, C.INVALID_ARGUMENT, details)
            self.assertIn(text, details)
        token = rt.sign(rpb, self.key, self.TENANT, INGEST)
        wide = self.ingest_req(token, [], [0, 1, 0, 0], 20, self.oid)
        wide.ids.add(high=1, low=2)
        code, details = rt.status_of(self.c.retrieval.Ingest, wide)
        self.assertEqual((code, details), (C.INVALID_ARGUMENT, "ids[0].high is 1; this server's "
                                           "vector ids are 64-bit (high must be 0)"))
        # None of the refused batches was recorded: the good one after them is applied.
        self.assertTrue(self.ingest([2], [0, 1, 0, 0], 10).applied)

    def test_mint_token_contract(self):
        mint = self.c.extension.MintToken
        t = self.mint(self.c, self.name, INGEST, "scope-x", 120_000)
        self.assertEqual((t.index_key, t.tenant_id, t.operation, t.policy_scope_digest),
                         (self.key, self.TENANT, INGEST, "scope-x"))
        self.assertAlmostEqual(t.expires_at_unix_ms - rt.now_ms(), 120_000, delta=5_000)
        self.assertEqual(t, rt.sign(rpb, self.key, self.TENANT, INGEST, "scope-x",
                                    expires=t.expires_at_unix_ms))
        for req, code in [
                (xpb.MintTokenRequest(index_name=self.name), C.INVALID_ARGUMENT),
                (xpb.MintTokenRequest(index_name=self.name, operation=SEARCH, ttl_ms=300_001),
                 C.INVALID_ARGUMENT),
                (xpb.MintTokenRequest(index_name="missing", operation=SEARCH), C.NOT_FOUND)]:
            self.assertEqual(rt.status_of(mint, req)[0], code)

    def test_dropped_index_is_not_served_and_not_followed(self):
        self.ingest([1], [1, 0, 0, 0])
        self.assertTrue(self.c.vectors.DropIndex(vpb.DropIndexRequest(name=self.name)).success)
        self.assertEqual(self.retrieve_status()[0], C.NOT_FOUND)
        self.create(self.c, self.name)  # the same name again: the binding does not follow it
        code, details = self.retrieve_status()
        self.assertEqual(code, C.NOT_FOUND)
        self.assertIn("is not served", details)
        self.bind(self.c, self.name, self.oid)  # an explicit rebind does
        self.assertEqual(len(self.c.retrieval.Retrieve(self.retrieve_req(
            rt.sign(rpb, self.key, self.TENANT, SEARCH), [1, 0, 0, 0], oid=self.oid)).candidates),
            0)


class Restart(Base):
    """Bindings, the applied set and tokens (signed with the key file) across restarts."""

    def test_replay_after_restart_and_kill(self):
        work = os.path.join(WORK, "restart")
        server = start(work)
        c = rt.RetrievalClient(server.address())
        self.create(c, "docs")
        self.bind(c, "docs")
        ingest_token = self.mint(c, "docs", INGEST, ttl_ms=300_000)
        first = c.retrieval.Ingest(self.ingest_req(ingest_token, [1, 2], [1, 0, 0, 0, 0, 1, 0, 0]))
        self.assertTrue(first.applied)
        c.close()
        server.stop()
        server = start(work)
        c = rt.RetrievalClient(server.address())
        again = c.retrieval.Ingest(self.ingest_req(ingest_token, [1, 2], [1, 0, 0, 0, 0, 1, 0, 0]))
        self.assertFalse(again.applied)
        self.assertEqual((again.operation_id, again.inserted_count, again.index_generation),
                         (first.operation_id, 2, first.index_generation))
        search = self.mint(c, "docs", SEARCH)
        r = c.retrieval.Retrieve(self.retrieve_req(search, [0, 1, 0, 0], top_k=1))
        self.assertEqual([x.id.low for x in r.candidates], [2])
        self.assertEqual(r.index_generation, first.index_generation)

        # kill -9 while batches are in flight: afterwards a batch is recorded exactly when its
        # vectors are in, so replaying every batch leaves every vector in once.
        batches, size = 40, 500
        def send(client):
            for seq in range(1, batches + 1):
                ids = list(range(seq * 10_000, seq * 10_000 + size))
                try:
                    client.retrieval.Ingest(self.ingest_req(ingest_token, ids,
                                                            [float(seq), 1, 2, 3] * size, seq))
                except grpc.RpcError:
                    return
        sender = threading.Thread(target=send, args=(c,))
        sender.start()
        import time
        time.sleep(0.5)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        sender.join()
        c.close()
        server = start(work)
        c = rt.RetrievalClient(server.address())
        before = c.vectors.GetStats(vpb.GetStatsRequest(index_name="docs")).stats.num_vectors
        repeats = 0
        for seq in range(1, batches + 1):
            ids = list(range(seq * 10_000, seq * 10_000 + size))
            r = c.retrieval.Ingest(self.ingest_req(ingest_token, ids, [float(seq), 1, 2, 3] * size,
                                                   seq))
            repeats += 0 if r.applied else 1
            self.assertEqual(r.inserted_count, size)
        after = c.vectors.GetStats(vpb.GetStatsRequest(index_name="docs")).stats.num_vectors
        self.assertEqual(before, 2 + repeats * size)
        self.assertEqual(after, 2 + batches * size)
        print("kill -9 replay: %d of %d batches were recorded before the kill" % (repeats, batches))
        c.close()
        server.stop()


class Tenants(Base):
    """API keys: tenants alpha and beta (editors), alpha's viewer."""

    KEYS = {
        "alpha": ("sk_retr_alpha_0123456789", "alpha", "editor", "alpha-app"),
        "viewer": ("sk_retr_alpha_ro_0123456", "alpha", "viewer", "alpha-ro"),
        "beta": ("sk_retr_beta_01234567890", "beta", "editor", "beta-app"),
    }

    @classmethod
    def setUpClass(cls):
        work = os.path.join(WORK, "tenants")
        key_file = rt.write_key_file(work)
        cls.server = sochdb_e2e.keyed_server(work, cls.KEYS.values(), [
            "--sync", "off", "--retrieval-signing-key-file", key_file])
        cls.clients = {who: rt.RetrievalClient(cls.server.address(), entry[0])
                       for who, entry in cls.KEYS.items()}

    @classmethod
    def tearDownClass(cls):
        for client in cls.clients.values():
            client.close()
        cls.server.stop()

    def test_tenants_are_confined(self):
        a, b, v = self.clients["alpha"], self.clients["beta"], self.clients["viewer"]
        self.create(a, "docs")
        self.bind(a, "docs")
        token = self.mint(a, "docs", INGEST)
        self.assertTrue(a.retrieval.Ingest(self.ingest_req(token, [1], [1, 0, 0, 0])).applied)
        # beta: no such index of its own to mint for; alpha's object id is unbound for beta.
        self.assertEqual(rt.status_of(b.extension.MintToken, xpb.MintTokenRequest(
            index_name="docs", operation=SEARCH))[0], C.NOT_FOUND)
        search = self.mint(a, "docs", SEARCH)
        self.assertEqual(rt.status_of(b.retrieval.Retrieve, self.retrieve_req(
            search, [1, 0, 0, 0]))[0], C.NOT_FOUND)
        # beta binds the same object id to its own index: separate; alpha's token is refused.
        self.create(b, "docs")
        self.bind(b, "docs")
        code, details = rt.status_of(b.retrieval.Retrieve, self.retrieve_req(search, [1, 0, 0, 0]))
        self.assertEqual(code, C.PERMISSION_DENIED)
        self.assertIn("grants index 'alpha:docs', request addresses 'beta:docs'", details)
        same_op = self.ingest_req(self.mint(b, "docs", INGEST), [1], [1, 0, 0, 0])
        self.assertTrue(b.retrieval.Ingest(same_op).applied)  # same operation id, other tenant
        # The viewer reads with a token its editor minted, but neither mints nor ingests.
        self.assertEqual(len(v.retrieval.Retrieve(self.retrieve_req(search, [1, 0, 0, 0]))
                             .candidates), 1)
        self.assertEqual(rt.status_of(v.extension.MintToken, xpb.MintTokenRequest(
            index_name="docs", operation=SEARCH))[0], C.PERMISSION_DENIED)
        self.assertEqual(rt.status_of(v.retrieval.Ingest, self.ingest_req(token, [9], [1, 0, 0, 0],
                                                                          5))[0],
                         C.PERMISSION_DENIED)
        self.assertEqual(rt.status_of(v.retrieval.BindIndex, rpb.BindIndexRequest(
            index_object_id=uid((0, 9)), index_name="docs"))[0], C.PERMISSION_DENIED)

    def test_policies_bind_v2_calls(self):
        """Policies see v2 calls as VectorIndexService's: the index "<name>/" for a Retrieve,
        "<name>/<id>" per vector for an Ingest, under service 'vector'."""
        a = self.clients["alpha"]
        self.create(a, "pol")
        self.bind(a, "pol", (0, 77))
        ingest, search = self.mint(a, "pol", INGEST), self.mint(a, "pol", SEARCH)
        channel, keyed = sochdb_e2e.keyed_channel(self.server.address(), self.KEYS["alpha"][0])
        self.addCleanup(channel.close)
        policy = ppb_grpc.PolicyServiceStub(keyed)

        def deny(name, pattern, trigger):
            rule = ppb.PolicyRule(name=name, pattern=pattern, trigger=trigger,
                                  default_action=ppb.POLICY_ACTION_DENY,
                                  expression="service == 'vector'")
            r = policy.RegisterPolicy(ppb.RegisterPolicyRequest(policy=rule))
            self.assertTrue(r.success, r)
            return r.policy_id

        write = deny("no pol 5x", "pol/5?", ppb.POLICY_TRIGGER_BEFORE_WRITE)
        self.assertTrue(a.retrieval.Ingest(self.ingest_req(ingest, [40], [1, 0, 0, 0], 1,
                                                           oid=(0, 77))).applied)
        self.assertEqual(rt.status_of(a.retrieval.Ingest, self.ingest_req(
            ingest, [41, 52], [1, 0, 0, 0] * 2, 2, oid=(0, 77))),
            (C.PERMISSION_DENIED, "Denied by policy: no pol 5x"))
        read = deny("no pol reads", "pol/*", ppb.POLICY_TRIGGER_BEFORE_READ)
        self.assertEqual(rt.status_of(a.retrieval.Retrieve, self.retrieve_req(
            search, [1, 0, 0, 0], oid=(0, 77))), (C.PERMISSION_DENIED,
                                                  "Denied by policy: no pol reads"))
        for pid in (write, read):
            policy.DeletePolicy(ppb.DeletePolicyRequest(policy_id=pid))
        self.assertEqual(len(a.retrieval.Retrieve(self.retrieve_req(
            search, [1, 0, 0, 0], oid=(0, 77))).candidates), 1)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        sochdb_e2e.cleanup(WORK)
