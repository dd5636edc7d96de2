"""PolicyService and the governance step end to end from Python, as a grpcio client calls them.

Starts the real server and checks: each PolicyService RPC's contract and error channel; that a
DENY rule blocks every data service's reads, writes and deletes (KV, collections, vector
indexes) with PERMISSION_DENIED "Denied by policy: <name>" and leaves the data as it was; that a
LOG rule lets the call through and leaves an audit record (paged); conditions over the caller's
context headers and its key; tenant isolation and global rules with a key file; rules surviving
a restart and kill -9; and bad rules refused with INVALID_ARGUMENT naming the field.
"""

import itertools
import os
import random
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from sochdb.v1 import collection_document_pb2 as dpb  # noqa: E402
from sochdb.v1 import collection_document_pb2_grpc as dpb_grpc  # noqa: E402
from sochdb.v1 import collection_pb2 as cpb  # noqa: E402
from sochdb.v1 import collection_pb2_grpc as cpb_grpc  # noqa: E402
from sochdb.v1 import kv_pb2 as kpb  # noqa: E402
from sochdb.v1 import kv_pb2_grpc as kpb_grpc  # noqa: E402
from sochdb.v1 import policy_audit_pb2 as apb  # noqa: E402
from sochdb.v1 import policy_audit_pb2_grpc as apb_grpc  # noqa: E402
from sochdb.v1 import policy_pb2 as ppb  # noqa: E402
from sochdb.v1 import policy_pb2_grpc as ppb_grpc  # noqa: E402
from sochdb.v1 import vector_index_pb2 as vpb  # noqa: E402
from sochdb.v1 import vector_index_pb2_grpc as vpb_grpc  # noqa: E402

BEFORE_READ = ppb.POLICY_TRIGGER_BEFORE_READ
AFTER_READ = ppb.POLICY_TRIGGER_AFTER_READ
BEFORE_WRITE = ppb.POLICY_TRIGGER_BEFORE_WRITE
BEFORE_DELETE = ppb.POLICY_TRIGGER_BEFORE_DELETE
ALLOW = ppb.POLICY_ACTION_ALLOW
DENY = ppb.POLICY_ACTION_DENY
LOG = ppb.POLICY_ACTION_LOG


class Client:
    """Stubs of every service these tests call, over one channel carrying `key` (if any)."""

    def __init__(self, address, key=None):
        self.raw_channel, channel = sochdb_e2e.keyed_channel(address, key)
        self.policy = ppb_grpc.PolicyServiceStub(channel)
        self.audit = apb_grpc.PolicyAuditServiceStub(channel)
        self.kv = kpb_grpc.KvServiceStub(channel)
        self.coll = cpb_grpc.CollectionServiceStub(channel)
        self.docs = dpb_grpc.CollectionDocumentServiceStub(channel)
        self.vec = vpb_grpc.VectorIndexServiceStub(channel)

    def register(self, name, pattern, trigger, action, **fields):
        rule = ppb.PolicyRule(name=name, pattern=pattern, trigger=trigger, default_action=action,
                              **fields)
        r = self.policy.RegisterPolicy(ppb.RegisterPolicyRequest(policy=rule))
        assert r.success and r.policy_id, r
        return r.policy_id

    def delete_policy(self, policy_id):
        return self.policy.DeletePolicy(ppb.DeletePolicyRequest(policy_id=policy_id))

    def list_policies(self, pattern=""):
        return list(self.policy.ListPolicies(ppb.ListPoliciesRequest(pattern=pattern)).policies)

    def evaluate(self, operation, key, context=None, **fields):
        return self.policy.Evaluate(ppb.EvaluatePolicyRequest(
            operation=operation, key=key, context=context or {}, **fields))

    def put(self, ns, key, value, metadata=None):
        return self.kv.Put(kpb.KvPutRequest(namespace=ns, key=key, value=value),
                           metadata=metadata).success

    def get(self, ns, key, metadata=None):
        r = self.kv.Get(kpb.KvGetRequest(namespace=ns, key=key), metadata=metadata)
        return r.value if r.found else None

    def scan(self, ns, prefix):
        return [(r.key, r.value)
                for r in self.kv.Scan(kpb.KvScanRequest(namespace=ns, prefix=prefix))]

    def audit_page(self, limit=0, token="", tenant=""):
        return self.audit.ListAuditRecords(
            apb.ListAuditRecordsRequest(limit=limit, page_token=token, tenant=tenant))

    def close(self):
        self.raw_channel.close()


class PolicyCase(unittest.TestCase):
    """Assertions shared by the test classes below."""

    def assertRefused(self, code, text, call, *args, **kwargs):
        """`call` fails with `code`; its details equal `text` (a str) or match it (a regex)."""
        with self.assertRaises(grpc.RpcError, msg="not refused: %r" % (args,)) as caught:
            result = call(*args, **kwargs)
            if hasattr(result, "__iter__") and not isinstance(result, (bytes, str)):
                list(result)  # a server stream reports its status when read
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        if isinstance(text, str):
            self.assertEqual(caught.exception.details(), text)
        else:
            self.assertRegex(caught.exception.details(), text)
        return caught.exception

    def assertDenied(self, name, call, *args, **kwargs):
        return self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, "Denied by policy: " + name,
                                  call, *args, **kwargs)


class PolicyDevModeEndToEnd(PolicyCase):
    """One development-mode server (every caller: "anonymous", tenant "default", admin). Each
    test deletes the rules it registered, so no rule outlives its test."""

    @classmethod
    def setUpClass(cls):
        work = os.path.join(WORK, "dev")
        os.makedirs(work, exist_ok=True)
        cls.server = sochdb_e2e.Server(work).start()
        cls.c = Client(cls.server.address())

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def tearDown(self):
        for rule in self.c.list_policies():
            self.assertTrue(self.c.delete_policy(rule.id).success)

    # 1. The PolicyService contract.

    def test_register_generates_ids_upserts_by_id_and_reports_missing_policy(self):
        c = self.c
        first = c.register("gen-1", "gen/*", BEFORE_READ, DENY)
        second = c.register("gen-2", "gen2/*", BEFORE_READ, DENY)
        self.assertRegex(first, r"^policy_\d+$")
        self.assertRegex(second, r"^policy_\d+$")
        self.assertNotEqual(first, second)
        # The same id again replaces the rule (upstream's upsert): one rule, the new fields.
        self.assertEqual(c.register("gen-1 renamed", "gen/x", BEFORE_WRITE, LOG, id=first), first)
        rules = {r.id: r for r in c.list_policies()}
        self.assertEqual(sorted(rules), sorted([first, second]))
        replaced = rules[first]
        self.assertEqual(
            (replaced.name, replaced.pattern, replaced.trigger, replaced.default_action),
            ("gen-1 renamed", "gen/x", BEFORE_WRITE, LOG))
        self.assertEqual(c.register("mine", "m/*", BEFORE_READ, DENY, id="my-id"), "my-id")
        r = c.policy.RegisterPolicy(ppb.RegisterPolicyRequest())
        self.assertEqual((r.success, r.policy_id, r.error), (False, "", "Policy is required"))
        self.assertEqual(len(c.list_policies()), 3)

    def test_evaluate_combines_deny_over_log_over_allow_naming_the_lowest_id(self):
        c = self.c
        c.register("allow-it", "combo/*", BEFORE_READ, ALLOW, id="c-allow")
        c.register("log-it", "combo/*", AFTER_READ, LOG, id="c-log")
        c.register("deny-b", "combo/*", BEFORE_READ, DENY, id="c-deny-b")
        c.register("deny-a", "combo/k*", BEFORE_READ, DENY, id="c-deny-a")
        r = c.evaluate("read", b"combo/key")
        self.assertEqual((r.action, r.reason), (DENY, "Denied by policy: deny-a"))
        self.assertEqual(list(r.matched_policies), ["c-allow", "c-deny-a", "c-deny-b", "c-log"])
        self.assertEqual(r.modified_value, b"")
        c.delete_policy("c-deny-a")
        c.delete_policy("c-deny-b")
        r = c.evaluate("read", b"combo/key")
        self.assertEqual((r.action, r.reason), (LOG, "Logged by policy: log-it"))
        self.assertEqual(list(r.matched_policies), ["c-allow", "c-log"])
        c.delete_policy("c-log")
        r = c.evaluate("read", b"combo/key")
        self.assertEqual((r.action, r.reason, list(r.matched_policies)), (ALLOW, "", ["c-allow"]))
        # Other kinds of access and keys the pattern does not match: nothing applies.
        for operation, key in (("write", b"combo/key"), ("delete", b"combo/key"),
                               ("read", b"combo"), ("read", b"other/combo/key")):
            r = c.evaluate(operation, key)
            self.assertEqual((r.action, r.reason, list(r.matched_policies)), (ALLOW, "", []),
                             (operation, key))

    def test_evaluate_unknown_operation_allows_with_nothing_matched(self):
        c = self.c
        c.register("deny-all-reads", "*", BEFORE_READ, DENY)
        c.register("deny-all-writes", "*", BEFORE_WRITE, DENY)
        for operation in ("frobnicate", "READ", ""):
            r = self.c.evaluate(operation, b"anything")
            self.assertEqual((r.action, r.reason, list(r.matched_policies)), (ALLOW, "", []),
                             operation)
        self.assertEqual(c.evaluate("read", b"anything").action, DENY)

    def test_evaluate_reports_redaction_of_an_after_read_rule(self):
        c = self.c
        redact = c.register("mask-pii", "pii/*", AFTER_READ, ALLOW, metadata={"redact": "***"})
        r = c.evaluate("read", b"pii/ssn")
        self.assertEqual((r.action, r.reason, r.modified_value, list(r.matched_policies)),
                         (ALLOW, "", b"***", [redact]))
        # Only reads are redacted, and only keys the rule matches.
        self.assertEqual(c.evaluate("write", b"pii/ssn").modified_value, b"")
        self.assertEqual(c.evaluate("read", b"public/name").modified_value, b"")
        # Only an AFTER_READ rule may redact: elsewhere the entry is refused, not ignored.
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                           'policy.metadata entry "redact" applies to AFTER_READ rules only',
                           c.policy.RegisterPolicy, ppb.RegisterPolicyRequest(policy=ppb.PolicyRule(
                               name="early", pattern="pii2/*", trigger=BEFORE_READ,
                               metadata={"redact": "x"})))
        self.assertEqual([r.id for r in c.list_policies()], [redact])

    def test_list_policies_filters_by_pattern_substring(self):
        c = self.c
        a = c.register("list a", "list-alpha/*", BEFORE_READ, DENY)
        b = c.register("list b", "list-beta/*", BEFORE_WRITE, LOG, expression="user.role == 'x'",
                       metadata={"owner": "ops"})
        self.assertEqual(sorted(r.id for r in c.list_policies()), sorted([a, b]))
        self.assertEqual([r.id for r in c.list_policies("alpha")], [a])
        self.assertEqual([r.id for r in c.list_policies("list-")], sorted([a, b]))
        self.assertEqual(c.list_policies("gamma"), [])
        # The filter is over patterns, not names.
        self.assertEqual(c.list_policies("list b"), [])
        listed = c.list_policies("beta")[0]
        self.assertEqual((listed.name, listed.pattern, listed.trigger, listed.default_action,
                          listed.expression, dict(listed.metadata), getattr(listed, "global")),
                         ("list b", "list-beta/*", BEFORE_WRITE, LOG, "user.role == 'x'",
                          {"owner": "ops"}, False))

    def test_delete_policy_reports_unknown_ids_in_error(self):
        c = self.c
        rule = c.register("to delete", "del/*", BEFORE_READ, DENY)
        r = c.delete_policy(rule)
        self.assertEqual((r.success, r.error), (True, ""))
        r = c.delete_policy(rule)
        self.assertEqual((r.success, r.error), (False, "Policy '%s' not found" % rule))
        r = c.delete_policy("never-registered")
        self.assertEqual((r.success, r.error), (False, "Policy 'never-registered' not found"))
        self.assertEqual(c.list_policies(), [])

    # 2. Enforcement: a DENY rule blocks reads, writes and deletes of every data service.

    def test_deny_blocks_kv_get_put_delete_and_lifts_when_deleted(self):
        c, ns = self.c, "pol-kv"
        self.assertTrue(c.put(ns, b"guard/a", b"old"))
        read = c.register("no kv reads", "guard/*", BEFORE_READ, DENY)
        self.assertDenied("no kv reads", c.get, ns, b"guard/a")
        self.assertEqual(c.get(ns, b"open/a"), None)  # other keys: allowed
        # "After" triggers are checked before the operation too (policy.h): nothing to undo.
        write = c.register("no kv writes", "guard/*", ppb.POLICY_TRIGGER_AFTER_WRITE, DENY)
        self.assertDenied("no kv writes", c.put, ns, b"guard/a", b"new")
        self.assertDenied("no kv writes", c.put, ns, b"guard/b", b"new")
        delete = c.register("no kv deletes", "guard/*", ppb.POLICY_TRIGGER_AFTER_DELETE, DENY)
        self.assertDenied("no kv deletes", c.kv.Delete,
                          kpb.KvDeleteRequest(namespace=ns, key=b"guard/a"))
        c.delete_policy(read)
        # Nothing changed: the denied write wrote nothing, the denied delete deleted nothing.
        self.assertEqual(c.get(ns, b"guard/a"), b"old")
        self.assertEqual(c.get(ns, b"guard/b"), None)
        c.delete_policy(write)
        self.assertTrue(c.put(ns, b"guard/b", b"new"))
        c.delete_policy(delete)
        self.assertTrue(c.kv.Delete(kpb.KvDeleteRequest(namespace=ns, key=b"guard/a")).success)
        self.assertEqual(c.scan(ns, b"guard/"), [(b"guard/b", b"new")])

    def test_deny_blocks_kv_batches_whole(self):
        c, ns = self.c, "pol-batch"
        self.assertTrue(c.put(ns, b"public/a", b"1"))
        self.assertTrue(c.put(ns, b"secret/x", b"2"))
        c.register("no secret reads", "secret/*", BEFORE_READ, DENY)
        c.register("no locked writes", "locked/*", BEFORE_WRITE, DENY)
        self.assertDenied("no secret reads", c.kv.BatchGet,
                          kpb.KvBatchGetRequest(namespace=ns, keys=[b"public/a", b"secret/x"]))
        got = c.kv.BatchGet(kpb.KvBatchGetRequest(namespace=ns, keys=[b"public/a"]))
        self.assertEqual([(e.key, e.value) for e in got.entries], [(b"public/a", b"1")])
        entries = [kpb.KvPutEntry(key=b"free/a", value=b"v"),
                   kpb.KvPutEntry(key=b"locked/b", value=b"v")]
        self.assertDenied("no locked writes", c.kv.BatchPut,
                          kpb.KvBatchPutRequest(namespace=ns, entries=entries))
        # A denied batch is refused whole: not even its allowed entry was written.
        self.assertEqual(c.get(ns, b"free/a"), None)
        self.assertEqual(c.kv.BatchPut(kpb.KvBatchPutRequest(
            namespace=ns, entries=entries[:1])).success_count, 1)

    def test_read_deny_on_secret_denies_scans_that_reach_it(self):
        c, ns = self.c, "pol-scan"
        for key in (b"public/1", b"public/2", b"secret/1"):
            self.assertTrue(c.put(ns, key, b"v"))
        rule = c.register("no secret scans", "secret/*", BEFORE_READ, DENY)
        # An empty prefix reaches secret/ keys; so do "secret/", "sec" and "secret/1".
        for prefix in (b"", b"s", b"secret/", b"secret/1"):
            self.assertDenied("no secret scans", c.scan, ns, prefix)
        # Prefixes under which the pattern matches no key are scanned as usual.
        self.assertEqual(c.scan(ns, b"public/"), [(b"public/1", b"v"), (b"public/2", b"v")])
        self.assertEqual(c.scan(ns, b"pub"), [(b"public/1", b"v"), (b"public/2", b"v")])
        c.delete_policy(rule)
        self.assertEqual(len(c.scan(ns, b"")), 3)

    def test_deny_holds_exactly_the_keys_the_glob_matches_and_every_scan_reaching_one(self):
        """Random globs (seeded) against an independent reading of pattern.h's rules: a Get is
        denied exactly when Python's re matches the key; a Scan whenever some key under its
        prefix matches (it may be denied more often: a prefix check is allowed to be cautious)."""
        c, ns, rng = self.c, "pol-glob", random.Random(17)
        atoms = ["a", "b", "/", "*", "?", ".", "[ab]", "ab", "a+", "b{0,1}", "(a|b)"]
        alphabet = [b"a", b"b", b"/", b".", b"\n", b"\xff"]
        tails = [b"".join(t) for n in range(3) for t in itertools.product(alphabet, repeat=n)]
        for _ in range(40):
            glob = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 5)))
            c.register("glob " + glob, glob, BEFORE_READ, DENY, id="glob")
            regex = re.compile(glob.replace(".", r"\.").replace("*", ".*").replace("?", ".")
                               .encode(), re.DOTALL)
            for _ in range(8):
                key = b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
                if regex.fullmatch(key):
                    self.assertDenied("glob " + glob, c.get, ns, key)
                else:
                    self.assertIsNone(c.get(ns, key), (glob, key))
                prefix = key[:rng.randint(0, len(key))]
                if any(regex.fullmatch(prefix + tail) for tail in tails):
                    self.assertDenied("glob " + glob, c.scan, ns, prefix)

    def test_deny_blocks_collection_reads(self):
        c, ns = self.c, "pol-coll"
        self._collection(ns, "creads", ["d1", "d2"])
        rule = c.register("no doc reads", "creads/*", BEFORE_READ, DENY)
        self.assertDenied("no doc reads", c.coll.GetDocument, cpb.GetDocumentRequest(
            namespace=ns, collection_name="creads", document_id="d1"))
        self.assertDenied("no doc reads", c.coll.SearchCollection, cpb.SearchCollectionRequest(
            namespace=ns, collection_name="creads", query=[1, 0, 0], k=2))
        self.assertDenied("no doc reads", c.docs.CountDocuments, dpb.CountDocumentsRequest(
            namespace=ns, collection_name="creads"))
        # The collection itself is the key "creads", which "creads/*" does not match.
        got = c.coll.GetCollection(cpb.GetCollectionRequest(namespace=ns, name="creads"))
        self.assertEqual(got.collection.document_count, 2)
        c.delete_policy(rule)
        doc = c.coll.GetDocument(cpb.GetDocumentRequest(
            namespace=ns, collection_name="creads", document_id="d1")).document
        self.assertEqual(doc.content, "text d1")
        found = c.coll.SearchCollection(cpb.SearchCollectionRequest(
            namespace=ns, collection_name="creads", query=[1, 0, 0], k=2))
        self.assertEqual(len(found.results), 2)

    def test_deny_blocks_collection_writes(self):
        c, ns = self.c, "pol-coll"
        self._collection(ns, "cwrites", ["d1"])
        rule = c.register("no doc writes", "cwrites/n*", BEFORE_WRITE, DENY)
        add = cpb.AddDocumentsRequest(namespace=ns, collection_name="cwrites", documents=[
            cpb.Document(id="ok1", content="fine", embedding=[0, 1, 0]),
            cpb.Document(id="new", content="blocked", embedding=[0, 0, 1])])
        self.assertDenied("no doc writes", c.coll.AddDocuments, add)
        self.assertEqual(self._count(ns, "cwrites"), 1)
        self.assertFalse(c.coll.GetDocument(cpb.GetDocumentRequest(
            namespace=ns, collection_name="cwrites", document_id="ok1")).HasField("document"))
        update = dpb.UpdateDocumentMetadataRequest(namespace=ns, collection_name="cwrites",
                                                   document_id="new", metadata={"k": "v"})
        self.assertDenied("no doc writes", c.docs.UpdateDocumentMetadata, update)
        c.delete_policy(rule)
        self.assertEqual(c.coll.AddDocuments(add).added_count, 2)
        self.assertEqual(self._count(ns, "cwrites"), 3)
        self.assertTrue(c.docs.UpdateDocumentMetadata(update).success)
        # A document the server names could get any id: a rule that may match one holds it.
        c.register("no hex ids", "cwrites/[0-9a-f]*", BEFORE_WRITE, DENY)
        unnamed = cpb.AddDocumentsRequest(namespace=ns, collection_name="cwrites", documents=[
            cpb.Document(content="no id", embedding=[0, 1, 1])])
        self.assertDenied("no hex ids", c.coll.AddDocuments, unnamed)
        self.assertEqual(self._count(ns, "cwrites"), 3)
        unnamed.documents[0].id = "zz"
        self.assertEqual(c.coll.AddDocuments(unnamed).added_count, 1)

    def test_deny_blocks_collection_deletes(self):
        c, ns = self.c, "pol-coll"
        self._collection(ns, "cdeletes", ["d1", "d2"])
        rule = c.register("no doc deletes", "cdeletes/*", BEFORE_DELETE, DENY)
        delete_doc = cpb.DeleteDocumentRequest(namespace=ns, collection_name="cdeletes",
                                               document_id="d1")
        drop = cpb.DeleteCollectionRequest(namespace=ns, name="cdeletes")
        self.assertDenied("no doc deletes", c.coll.DeleteDocument, delete_doc)
        # A drop deletes every document: "cdeletes/*" may match some, so it is denied too.
        self.assertDenied("no doc deletes", c.coll.DeleteCollection, drop)
        self.assertEqual(self._count(ns, "cdeletes"), 2)
        c.delete_policy(rule)
        self.assertTrue(c.coll.DeleteDocument(delete_doc).success)
        self.assertEqual(self._count(ns, "cdeletes"), 1)
        self.assertTrue(c.coll.DeleteCollection(drop).success)
        self.assertEqual(c.coll.GetCollection(cpb.GetCollectionRequest(
            namespace=ns, name="cdeletes")).collection.name, "")

    def test_deny_blocks_vector_index_search_insert_and_drop(self):
        c = self.c
        self.assertTrue(c.vec.CreateIndex(vpb.CreateIndexRequest(name="vpol", dimension=4)).success)
        vectors = [float(i % 4 == j) for i in range(1, 9) for j in range(4)]
        self.assertEqual(c.vec.InsertBatch(vpb.InsertBatchRequest(
            index_name="vpol", ids=list(range(1, 9)), vectors=vectors)).inserted_count, 8)
        search = vpb.SearchRequest(index_name="vpol", query=[1, 0, 0, 0], k=3)
        insert = vpb.InsertBatchRequest(index_name="vpol", ids=[40, 50], vectors=[1] * 8)
        drop = vpb.DropIndexRequest(name="vpol")
        read = c.register("no vector reads", "vpol/*", BEFORE_READ, DENY)
        write = c.register("no vector 5x", "vpol/5?", BEFORE_WRITE, DENY)
        delete = c.register("no index drops", "vpol", BEFORE_DELETE, DENY)
        self.assertDenied("no vector reads", c.vec.Search, search)
        self.assertDenied("no vector 5x", c.vec.InsertBatch, insert)
        # A stream is checked message by message; a denied one applies none of its messages.
        stream = [vpb.InsertStreamRequest(index_name="vpol", id=i, vector=[0, 1, 0, 0])
                  for i in (30, 31, 52, 32)]
        self.assertDenied("no vector 5x", c.vec.InsertStream, iter(stream))
        # Later messages may leave the index out: they are still checked under it.
        unnamed = [vpb.InsertStreamRequest(index_name="vpol" if i == 30 else "", id=i,
                                           vector=[0, 1, 0, 0]) for i in (30, 52)]
        self.assertDenied("no vector 5x", c.vec.InsertStream, iter(unnamed))
        self.assertDenied("no index drops", c.vec.DropIndex, drop)
        stats = vpb.GetStatsRequest(index_name="vpol")
        self.assertEqual(c.vec.GetStats(stats).stats.num_vectors, 8)
        c.delete_policy(read)
        self.assertEqual(len(c.vec.Search(search).results), 3)
        c.delete_policy(write)
        self.assertEqual(c.vec.InsertBatch(insert).inserted_count, 2)
        self.assertEqual(c.vec.InsertStream(iter(stream)).total_inserted, 4)
        self.assertEqual(c.vec.GetStats(stats).stats.num_vectors, 14)
        c.delete_policy(delete)
        self.assertTrue(c.vec.DropIndex(drop).success)
        self.assertNotEqual(c.vec.GetStats(stats).error, "")

    def test_after_read_redaction_rewrites_what_reads_return(self):
        c, ns = self.c, "redact"
        self.assertTrue(c.put(ns, b"pii/ssn", b"123-45-6789"))
        self.assertTrue(c.put(ns, b"public/name", b"Ada"))
        self._collection(ns, "cred", ["d1"])
        c.register("mask", "pii/*", AFTER_READ, ALLOW, metadata={"redact": "***"},
                   expression="user.role != 'auditor'")
        c.register("mask-docs", "cred/*", AFTER_READ, ALLOW, metadata={"redact": "[hidden]"})
        self.assertEqual(c.get(ns, b"pii/ssn"), b"***")
        self.assertEqual(c.get(ns, b"public/name"), b"Ada")  # a key the rule does not match
        got = c.kv.BatchGet(kpb.KvBatchGetRequest(namespace=ns, keys=[b"pii/ssn", b"public/name"]))
        self.assertEqual([e.value for e in got.entries], [b"***", b"Ada"])
        self.assertEqual(c.scan(ns, b""), [(b"pii/ssn", b"***"), (b"public/name", b"Ada")])
        # The condition reads the caller's context: auditors see the value.
        auditor = [("x-sochdb-context-user.role", "auditor")]
        self.assertEqual(c.get(ns, b"pii/ssn", metadata=auditor), b"123-45-6789")
        doc = c.coll.GetDocument(cpb.GetDocumentRequest(
            namespace=ns, collection_name="cred", document_id="d1")).document
        self.assertEqual((doc.id, doc.content), ("d1", "[hidden]"))
        hits = c.coll.SearchCollection(cpb.SearchCollectionRequest(
            namespace=ns, collection_name="cred", query=[1, 0, 0], k=1)).results
        self.assertEqual([h.document.content for h in hits], ["[hidden]"])
        # The stored value is untouched: with the rules gone, reads return it.
        for rule in c.list_policies():
            c.delete_policy(rule.id)
        self.assertEqual(c.get(ns, b"pii/ssn"), b"123-45-6789")

    def _collection(self, ns, name, ids):
        c = self.c
        self.assertTrue(c.coll.CreateCollection(cpb.CreateCollectionRequest(
            namespace=ns, name=name, dimension=3)).success)
        docs = [cpb.Document(id=i, content="text " + i, embedding=[1, 0, n])
                for n, i in enumerate(ids)]
        self.assertEqual(c.coll.AddDocuments(cpb.AddDocumentsRequest(
            namespace=ns, collection_name=name, documents=docs)).added_count, len(ids))

    def _count(self, ns, name):
        return self.c.coll.GetCollection(cpb.GetCollectionRequest(
            namespace=ns, name=name)).collection.document_count

    # 3. LOG rules leave audit records.

    def test_log_rule_lets_calls_through_and_leaves_paged_audit_records(self):
        c, ns = self.c, "pol-log"
        rule = c.register("audit writes", "audited/*", BEFORE_WRITE, LOG)
        for key in (b"audited/1", b"audited/2", b"audited/3", b"plain/1"):
            self.assertTrue(c.put(ns, key, b"v"))
        self.assertEqual(c.get(ns, b"audited/3"), b"v")
        first = c.audit_page(limit=2)
        self.assertEqual([r.key for r in first.records], [b"audited/3", b"audited/2"])
        self.assertNotEqual(first.next_page_token, "")
        second = c.audit_page(limit=2, token=first.next_page_token)
        self.assertEqual([r.key for r in second.records], [b"audited/1"])
        self.assertEqual(second.next_page_token, "")
        record = first.records[0]
        self.assertEqual(
            (record.principal_id, record.principal_role, record.tenant, record.service,
             record.method, record.operation, record.namespace, record.key_count,
             record.policy_id, record.policy_name),
            ("anonymous", "admin", "default", "kv", "Put", "write", ns, 1, rule, "audit writes"))
        self.assertGreaterEqual(record.time_ms, first.records[1].time_ms)
        self.assertGreater(record.time_ms, 1_700_000_000_000)
        # DENY wins over LOG: a refused call ran nothing, and leaves no record.
        c.register("deny one", "audited/4", BEFORE_WRITE, DENY)
        self.assertDenied("deny one", c.put, ns, b"audited/4", b"v")
        self.assertEqual(c.audit_page(limit=1).records[0].key, b"audited/3")
        # A batch is one record naming its first key and how many it touches.
        c.kv.BatchPut(kpb.KvBatchPutRequest(namespace=ns, entries=[
            kpb.KvPutEntry(key=b"audited/5", value=b"v"), kpb.KvPutEntry(key=b"x", value=b"v")]))
        record = c.audit_page(limit=1).records[0]
        self.assertEqual((record.method, record.key, record.key_count),
                         ("BatchPut", b"audited/5", 2))
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, re.compile("page_token"),
                           c.audit_page, token="not-a-token")
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, "limit is 1001; the maximum is 1000",
                           c.audit_page, limit=1001)

    # 4. Conditions.

    def test_condition_over_a_context_header(self):
        c, ns = self.c, "pol-cond"
        self.assertTrue(c.put(ns, b"cond/a", b"v"))
        c.register("admins only", "cond/*", BEFORE_READ, DENY, expression="user.role != 'admin'")
        self.assertDenied("admins only", c.get, ns, b"cond/a")
        self.assertDenied("admins only", c.get, ns, b"cond/a",
                          metadata=[("x-sochdb-context-user.role", "viewer")])
        self.assertEqual(c.get(ns, b"cond/a", metadata=[("x-sochdb-context-user.role", "admin")]),
                         b"v")
        # Evaluate reads its context from the request, as the SDK passes {"user.role": ...}.
        c.register("log admins", "cond/*", BEFORE_READ, LOG, expression="user.role == 'admin'")
        r = c.evaluate("read", b"cond/a", {"user.role": "admin"})
        self.assertEqual((r.action, r.reason), (LOG, "Logged by policy: log admins"))
        r = c.evaluate("read", b"cond/a", {"user.role": "guest"})
        self.assertEqual((r.action, r.reason), (DENY, "Denied by policy: admins only"))
        # Conditions see the operation's namespace and service (extension fields of Evaluate).
        c.register("kv in ns", "nsc/*", BEFORE_WRITE, DENY,
                   expression="namespace == 'locked' && service == 'kv'")
        self.assertEqual(c.evaluate("write", b"nsc/1", operation_namespace="locked",
                                    operation_service="kv").action, DENY)
        self.assertEqual(c.evaluate("write", b"nsc/1", operation_namespace="open",
                                    operation_service="kv").action, ALLOW)
        self.assertDenied("kv in ns", c.put, "locked", b"nsc/1", b"v")
        self.assertTrue(c.put("open", b"nsc/1", b"v"))

    def test_condition_on_the_key_holds_scans_that_may_reach_it(self):
        c, ns = self.c, "pol-keycond"
        self.assertTrue(c.put(ns, b"docs/menu", b"pizza"))
        self.assertTrue(c.put(ns, b"docs/salaries", b"secret"))
        c.register("no salaries", "docs/*", BEFORE_READ, DENY, expression="key == 'docs/salaries'")
        self.assertDenied("no salaries", c.get, ns, b"docs/salaries")
        self.assertEqual(c.get(ns, b"docs/menu"), b"pizza")
        # A scan of "docs/" would return docs/salaries: the condition may hold under it.
        self.assertDenied("no salaries", c.scan, ns, b"docs/")
        self.assertDenied("no salaries", c.scan, ns, b"")
        self.assertEqual(c.scan(ns, b"other/"), [])

    def test_reserved_context_names_are_refused(self):
        c, ns = self.c, "pol-cond"
        c.register("admins only", "rsv/*", BEFORE_READ, DENY, expression="user.role != 'admin'")
        for name in ("principal.id", "principal.role", "namespace", "key"):
            err = self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, re.compile("reserved"),
                                     c.get, ns, b"rsv/a",
                                     metadata=[("x-sochdb-context-" + name, "x")])
            self.assertIn(name, err.details())
            self.assertIn("x-sochdb-context", err.details())
            self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                               re.compile(r"^context entry '%s' is reserved" % re.escape(name)),
                               c.evaluate, "read", b"rsv/a", {name: "x"})
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                           "x-sochdb-context header entry 'user.role' is 1025 bytes; the limit is "
                           "1024 bytes", c.get, ns, b"rsv/a",
                           metadata=[("x-sochdb-context-user.role", "a" * 1025)])

    # 7. Bad input.

    def test_bad_rules_are_refused_naming_the_field(self):
        c = self.c
        cases = [
            ("policy.pattern", dict(pattern="[a-")),
            ("policy.expression", dict(pattern="ok/*", expression="user.role ==")),
            ("policy.expression", dict(pattern="ok/*",
                                       expression="user.role == '" + "x" * 4100 + "'")),
            ("policy.trigger", dict(pattern="ok/*", trigger=9)),
            ("policy.default_action", dict(pattern="ok/*", default_action=7)),
        ]
        for field, fields in cases:
            rule = ppb.PolicyRule(name="bad", **fields)
            err = self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, re.compile("^" + field),
                                     c.policy.RegisterPolicy,
                                     ppb.RegisterPolicyRequest(policy=rule))
            if len(fields.get("expression", "")) > 4096:
                self.assertIn("4096", err.details())
        self.assertEqual(c.list_policies(), [])


class PolicyTenantEndToEnd(PolicyCase):
    """A server with a key file: tenants alpha (two editors, a viewer) and beta (an editor),
    and an admin of tenant ops."""

    KEYS = {
        "alpha": ("sk_alpha_app_0123456789", "alpha", "editor", "alpha-app"),
        "alpha2": ("sk_alpha_two_0123456789", "alpha", "editor", "alpha-two"),
        "viewer": ("sk_alpha_ro_0123456789a", "alpha", "viewer", "alpha-ro"),
        "beta": ("sk_beta_app_01234567890", "beta", "editor", "beta-app"),
        "admin": ("sk_root_admin_012345678", "ops", "admin", "root"),
    }

    @classmethod
    def setUpClass(cls):
        cls.server = sochdb_e2e.keyed_server(os.path.join(WORK, "auth"), cls.KEYS.values())
        cls.clients = {who: Client(cls.server.address(), entry[0])
                       for who, entry in cls.KEYS.items()}

    @classmethod
    def tearDownClass(cls):
        for client in cls.clients.values():
            client.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def tearDown(self):
        for who in ("alpha", "beta", "admin"):
            client = self.clients[who]
            for rule in client.list_policies():
                client.delete_policy(rule.id)

    def test_a_tenants_rules_never_touch_another_tenant(self):
        a, b = self.clients["alpha"], self.clients["beta"]
        for client, ns in ((a, "alpha"), (b, "beta")):
            self.assertTrue(client.put(ns, b"shared/k", b"v"))
            self.assertTrue(client.vec.CreateIndex(
                vpb.CreateIndexRequest(name="shared", dimension=2)).success)
            self.assertEqual(client.vec.InsertBatch(vpb.InsertBatchRequest(
                index_name="shared", ids=[1], vectors=[1, 0])).inserted_count, 1)
        # The same id in both tenants: two separate rules.
        self.assertEqual(a.register("alpha deny", "shared*", BEFORE_READ, DENY, id="same-id"),
                         "same-id")
        self.assertEqual(b.register("beta log", "other/*", BEFORE_WRITE, LOG, id="same-id"),
                         "same-id")
        search = vpb.SearchRequest(index_name="shared", query=[1, 0], k=1)
        self.assertDenied("alpha deny", a.get, "alpha", b"shared/k")
        self.assertDenied("alpha deny", a.vec.Search, search)
        self.assertEqual(b.get("beta", b"shared/k"), b"v")
        self.assertEqual(len(b.vec.Search(search).results), 1)
        # Beta sees, evaluates with and deletes only its own rules.
        self.assertEqual([(r.id, r.name) for r in b.list_policies()], [("same-id", "beta log")])
        self.assertEqual([(r.id, r.name) for r in a.list_policies()], [("same-id", "alpha deny")])
        r = b.evaluate("read", b"shared/k")
        self.assertEqual((r.action, list(r.matched_policies)), (ALLOW, []))
        self.assertEqual(a.evaluate("read", b"shared/k").action, DENY)
        self.assertTrue(b.delete_policy("same-id").success)
        r = b.delete_policy("same-id")
        self.assertEqual((r.success, r.error), (False, "Policy 'same-id' not found"))
        self.assertEqual([r.name for r in a.list_policies()], ["alpha deny"])
        self.assertDenied("alpha deny", a.get, "alpha", b"shared/k")

    def test_log_records_name_the_key_and_stay_in_the_tenant(self):
        a, b = self.clients["alpha"], self.clients["beta"]
        rule = a.register("alpha audit", "logged/*", BEFORE_DELETE, LOG)
        self.assertTrue(a.put("alpha/app", b"logged/1", b"v"))
        self.assertTrue(a.kv.Delete(kpb.KvDeleteRequest(namespace="alpha/app",
                                                        key=b"logged/1")).success)
        record = a.audit_page().records[0]
        self.assertEqual(
            (record.principal_id, record.principal_role, record.tenant, record.method,
             record.operation, record.namespace, record.key, record.policy_id),
            ("alpha-app", "editor", "alpha", "Delete", "delete", "alpha/app", b"logged/1", rule))
        self.assertEqual(list(b.audit_page().records), [])
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, re.compile("Admin"),
                           b.audit_page, tenant="alpha")
        self.assertEqual(self.clients["admin"].audit_page(tenant="alpha").records[0].key,
                         b"logged/1")

    def test_condition_on_the_callers_key_id(self):
        a, a2 = self.clients["alpha"], self.clients["alpha2"]
        a.register("not alpha-app", "pid/*", BEFORE_WRITE, DENY,
                   expression="principal.id == 'alpha-app' && principal.tenant == 'alpha'")
        self.assertDenied("not alpha-app", a.put, "alpha", b"pid/1", b"v")
        self.assertTrue(a2.put("alpha", b"pid/1", b"v"))
        # The caller's identity comes from its key: a header cannot claim another.
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, re.compile("reserved"),
                           a2.put, "alpha", b"pid/2", b"v",
                           metadata=[("x-sochdb-context-principal.id", "someone-else")])
        self.assertEqual(a2.get("alpha", b"pid/2"), None)

    def test_viewers_cannot_register_or_delete(self):
        a, viewer = self.clients["alpha"], self.clients["viewer"]
        rule = a.register("alpha rule", "v/*", BEFORE_READ, DENY)
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, re.compile("Write"),
                           viewer.policy.RegisterPolicy, ppb.RegisterPolicyRequest(
                               policy=ppb.PolicyRule(name="x", pattern="x/*")))
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, re.compile("Write"),
                           viewer.delete_policy, rule)
        # Viewers read the rules that bind them, and ask what they would do.
        self.assertEqual([r.id for r in viewer.list_policies()], [rule])
        self.assertEqual(viewer.evaluate("read", b"v/1").action, DENY)

    def test_global_rules_need_admin_and_bind_every_tenant(self):
        a, b, admin = self.clients["alpha"], self.clients["beta"], self.clients["admin"]
        self.assertRefused(
            grpc.StatusCode.PERMISSION_DENIED,
            "Insufficient permissions. Required: Admin, principal: alpha-app",
            a.policy.RegisterPolicy, ppb.RegisterPolicyRequest(policy=ppb.PolicyRule(
                name="g", pattern="frozen/*", trigger=BEFORE_WRITE, default_action=DENY,
                **{"global": True})))
        self.assertEqual(a.list_policies(), [])
        rule = admin.register("freeze", "frozen/*", BEFORE_WRITE, DENY, **{"global": True})
        self.assertDenied("freeze", a.put, "alpha", b"frozen/1", b"v")
        self.assertDenied("freeze", b.put, "beta", b"frozen/1", b"v")
        self.assertTrue(a.put("alpha", b"thawed/1", b"v"))
        for client in (a, b):
            listed = client.list_policies()
            self.assertEqual([(r.id, getattr(r, "global")) for r in listed], [(rule, True)])
            r = client.evaluate("write", b"frozen/2")
            self.assertEqual((r.action, list(r.matched_policies)), (DENY, [rule]))
        self.assertRefused(grpc.StatusCode.PERMISSION_DENIED, re.compile("Admin"),
                           b.delete_policy, rule)
        self.assertTrue(admin.delete_policy(rule).success)
        self.assertTrue(b.put("beta", b"frozen/1", b"v"))


class PolicyPersistenceEndToEnd(PolicyCase):
    def test_rules_survive_restart_and_kill9(self):
        work = os.path.join(WORK, "restart")
        os.makedirs(work, exist_ok=True)
        server = sochdb_e2e.Server(work).start()
        c = Client(server.address())
        self.assertTrue(c.put("p", b"kept/1", b"v"))
        first = c.register("kept", "kept/*", BEFORE_READ, DENY)
        c.close()
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        server.start()
        c = Client(server.address())
        self.assertDenied("kept", c.get, "p", b"kept/1")
        second = c.register("killed", "killed/*", BEFORE_WRITE, DENY)
        c.close()
        server.stop(signal.SIGKILL)  # right after RegisterPolicy returned
        server.start()
        c = Client(server.address())
        self.assertDenied("kept", c.get, "p", b"kept/1")
        self.assertDenied("killed", c.put, "p", b"killed/1", b"v")
        self.assertEqual(sorted(r.id for r in c.list_policies()), sorted([first, second]))
        # Generated ids keep counting across restarts: a new rule never takes an old id.
        third = c.register("third", "third/*", BEFORE_READ, DENY)
        self.assertNotIn(third, (first, second))
        logged = c.register("logged", "logged/*", BEFORE_WRITE, LOG)
        self.assertTrue(c.put("p", b"logged/1", b"v"))
        self.assertTrue(c.delete_policy(first).success)
        c.close()
        server.stop(signal.SIGKILL)  # right after DeletePolicy and a logged Put returned
        server.start()
        c = Client(server.address())
        self.assertEqual(c.get("p", b"kept/1"), b"v")
        self.assertEqual(sorted(r.id for r in c.list_policies()),
                         sorted([second, third, logged]))
        record = c.audit_page().records[0]
        self.assertEqual((record.key, record.policy_id), (b"logged/1", logged))
        c.close()
        self.assertEqual(server.stop(signal.SIGTERM), 0)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
