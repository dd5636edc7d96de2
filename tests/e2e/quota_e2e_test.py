"""Namespace quotas end to end from Python, as a grpcio client meets them.

Starts the real server (development mode: the anonymous caller is Admin, so SetQuota works) and
checks each quota's edges with NamespaceStats read after every step, through GetNamespace and
ListNamespaces: exactly at the limit passes, one past is RESOURCE_EXHAUSTED with upstream's text
and writes nothing, an overwrite that adds nothing passes, delete then re-add passes, TTL expiry
gives bytes back once purged, a BatchPut or AddDocuments over the limit writes none of its
entries; lowering a quota below usage refuses adds but not deletes; stats survive SIGTERM and,
after kill -9 mid-stream, equal a recount of what Scan returns; a namespace registered over
existing data counts it; writes over expired, unpurged records are charged what they replace;
concurrent writers fill a quota exactly; DeleteCollection and DeleteNamespace(force) with writers
running leave nothing counted or behind, and a delete held up by an open Scan stream refuses
writes with FAILED_PRECONDITION until it finishes.
What counts is engine/namespace/usage_ledger.h's definition: a KV record is its key + value
bytes, a document its id + content + metadata keys and values + 4 bytes per embedding float.
"""

import os
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
from quota_e2e import EXHAUSTED, Client, QuotaCase, doc, doc_bytes, serve, shut  # noqa: E402
from sochdb.v1 import collection_pb2 as cpb  # noqa: E402
from sochdb.v1 import kv_pb2 as kpb  # noqa: E402
from sochdb.v1 import namespace_pb2 as npb  # noqa: E402


class QuotaEdges(QuotaCase):
    @classmethod
    def setUpClass(cls):
        work = os.path.join(WORK, "edges")
        os.makedirs(work)
        cls.server, cls.c = serve(work, ["--sync", "off"])

    @classmethod
    def tearDownClass(cls):
        shut(cls.server, cls.c)

    def test_storage_kv_put(self):
        c, ns = self.c, "q-kv"
        c.create_ns(ns, max_storage_bytes=100)
        self.assertStats(ns, 0)
        self.assertTrue(c.put(ns, b"k1", b"a" * 48))
        self.assertStats(ns, 50)
        self.assertTrue(c.put(ns, b"k2", b"b" * 48))  # exactly at the limit
        self.assertStats(ns, 100)
        text = "Namespace 'q-kv' storage quota exceeded (100 + %d > 100 bytes)"
        self.assertExhausted(text % 2, c.put, ns, b"k3", b"")
        self.assertIsNone(c.get(ns, b"k3"))
        self.assertExhausted(text % 1, c.put, ns, b"k2", b"c" * 49)  # one byte past
        self.assertEqual(c.get(ns, b"k2"), b"b" * 48)
        self.assertStats(ns, 100)
        self.assertTrue(c.put(ns, b"k2", b"d" * 48))  # same size at the limit
        self.assertEqual(c.get(ns, b"k2"), b"d" * 48)
        self.assertStats(ns, 100)
        self.assertTrue(c.put(ns, b"k2", b"e" * 40))  # a shrink frees the difference
        self.assertStats(ns, 92)
        self.assertTrue(c.delete(ns, b"k2"))
        self.assertStats(ns, 50)
        self.assertTrue(c.put(ns, b"k2", b"f" * 48))  # delete then re-add
        self.assertStats(ns, 100)
        self.assertEqual(sum(len(k) + len(v) for k, v in c.scan(ns)), 100)

    def test_storage_kv_batch_put(self):
        c, ns = self.c, "q-batch"
        c.create_ns(ns, max_storage_bytes=100)
        self.assertEqual(c.batch_put(ns, [(b"k1", b"a" * 48)]), 1)
        self.assertStats(ns, 50)
        # 20 + 31 bytes: the second entry passes the limit, so neither is written.
        self.assertExhausted("Namespace 'q-batch' storage quota exceeded (50 + 51 > 100 bytes)",
                             c.batch_put, ns, [(b"k4", b"x" * 18), (b"k5", b"y" * 29)])
        self.assertEqual((c.get(ns, b"k4"), c.get(ns, b"k5")), (None, None))
        self.assertStats(ns, 50)
        # The same key twice in a batch counts once (its last value); k1's overwrite nets 0.
        self.assertEqual(c.batch_put(ns, [(b"k4", b"x" * 40), (b"k4", b"x" * 23),
                                          (b"k1", b"z" * 48), (b"k5", b"y" * 23)]), 4)
        self.assertStats(ns, 100)
        self.assertEqual(c.get(ns, b"k1"), b"z" * 48)
        self.assertExhausted("Namespace 'q-batch' storage quota exceeded (100 + 1 > 100 bytes)",
                             c.batch_put, ns, [(b"k4", b"x" * 22), (b"k5", b"y" * 25)])
        self.assertEqual(c.get(ns, b"k4"), b"x" * 23)  # not the shrink either: all or nothing
        self.assertStats(ns, 100)

    def test_storage_ttl_expiry_gives_bytes_back(self):
        c, ns = self.c, "q-ttl"
        c.create_ns(ns, max_storage_bytes=100)
        self.assertTrue(c.put(ns, b"t", b"x" * 99, ttl_seconds=1))
        self.assertStats(ns, 100)
        self.assertExhausted("Namespace 'q-ttl' storage quota exceeded (100 + 2 > 100 bytes)",
                             c.put, ns, b"u", b"x")
        # Polled through GetNamespace alone: the purge may land between a Get and a List.
        deadline = time.time() + 5
        while (c.ns.GetNamespace(npb.GetNamespaceRequest(name=ns)).namespace.stats.storage_bytes
               != 0 and time.time() < deadline):
            time.sleep(0.1)
        self.assertStats(ns, 0)  # purged (every second by default): the bytes are back
        self.assertIsNone(c.get(ns, b"t"))
        self.assertTrue(c.put(ns, b"u", b"x" * 99))
        self.assertStats(ns, 100)

    def test_storage_documents_and_kv_share_the_limit(self):
        c, ns = self.c, "q-docs"
        d1 = doc("d1", "abcd", {"k": "vv"})
        d2 = doc("d2", "efgh", {"k": "ww"})
        self.assertEqual(doc_bytes(d1), 17)
        c.create_ns(ns, max_storage_bytes=40)
        self.assertTrue(c.create_collection(ns, "c").success)
        self.assertStats(ns, 0, 0, 1)
        self.assertEqual(c.add(ns, "c", [d1, d2]).added_count, 2)
        self.assertStats(ns, 34, 2, 1)
        self.assertTrue(c.put(ns, b"k", b"abcde"))  # 6 bytes: exactly at the limit
        self.assertStats(ns, 40, 2, 1)
        self.assertExhausted("Namespace 'q-docs' storage quota exceeded (40 + 17 > 40 bytes)",
                             c.add, ns, "c", [doc("d3", "ijkl", {"k": "xx"})])
        self.assertEqual(c.get_doc(ns, "c", "d3").error, "Document 'd3' not found")
        self.assertExhausted("Namespace 'q-docs' storage quota exceeded (40 + 1 > 40 bytes)",
                             c.add, ns, "c", [doc("d1", "abcde", {"k": "vv"})])
        self.assertEqual(c.get_doc(ns, "c", "d1").document.content, "abcd")
        # A same-size upsert adds nothing; so does a same-size metadata update.
        self.assertEqual(c.add(ns, "c", [doc("d1", "ABCD", {"k": "VV"})]).added_count, 1)
        self.assertTrue(c.update_metadata(ns, "c", "d1", {"k": "XX"}).success)
        self.assertStats(ns, 40, 2, 1)
        self.assertExhausted("Namespace 'q-docs' storage quota exceeded (40 + 2 > 40 bytes)",
                             c.update_metadata, ns, "c", "d1", {"n": "1"}, True)
        self.assertExhausted("Namespace 'q-docs' storage quota exceeded (40 + 1 > 40 bytes)",
                             c.update_metadata, ns, "c", "d1", {"k": "XXX"})
        self.assertEqual(dict(c.get_doc(ns, "c", "d1").document.metadata), {"k": "XX"})
        self.assertTrue(c.update_metadata(ns, "c", "d1", {"k": "V"}).success)  # a shrink
        self.assertStats(ns, 39, 2, 1)
        self.assertTrue(c.update_metadata(ns, "c", "d1", {"k": "VV"}).success)
        self.assertStats(ns, 40, 2, 1)
        self.assertTrue(c.delete(ns, b"k"))
        self.assertTrue(c.delete_doc(ns, "c", "d2").success)
        self.assertStats(ns, 17, 1, 1)
        multi = doc("d2", "efgh", {"k": "ww"}, extra=[(0.0, 1.0)])
        self.assertEqual(doc_bytes(multi), 25)  # its second embedding counts too
        self.assertExhausted("Namespace 'q-docs' storage quota exceeded (17 + 25 > 40 bytes)",
                             c.add, ns, "c", [multi])
        c.set_quota(ns, max_storage_bytes=42)
        self.assertEqual(c.add(ns, "c", [multi]).added_count, 1)  # one vector, 25 bytes
        self.assertStats(ns, 42, 2, 1)
        self.assertTrue(c.delete_collection(ns, "c").success)
        self.assertStats(ns, 0, 0, 0)

    def test_vectors(self):
        c, ns = self.c, "q-vec"
        c.create_ns(ns, max_vectors=3)
        self.assertTrue(c.create_collection(ns, "c").success)
        self.assertTrue(c.create_collection(ns, "c2").success)
        docs = [doc("d%d" % i) for i in range(1, 4)]
        each = doc_bytes(docs[0])
        self.assertEqual(c.add(ns, "c", docs[:2]).added_count, 2)
        self.assertStats(ns, 2 * each, 2, 2)
        self.assertEqual(c.add(ns, "c", docs[2:]).added_count, 1)  # exactly at the limit
        self.assertStats(ns, 3 * each, 3, 2)
        text = "Namespace 'q-vec' vector quota exceeded (3 + 1 > 3)"
        self.assertExhausted(text, c.add, ns, "c", [doc("d4")])
        # An existing id with a new one: only the new one counts, and neither is written.
        self.assertExhausted(text, c.add, ns, "c", [doc("d1", "new"), doc("d4")])
        self.assertEqual(c.get_doc(ns, "c", "d1").document.content, "")
        self.assertEqual(c.get_doc(ns, "c", "d4").error, "Document 'd4' not found")
        self.assertExhausted(text, c.add, ns, "c2", [doc("e1")])  # the namespace's total
        self.assertStats(ns, 3 * each, 3, 2)
        # Overwriting existing ids adds no vector.
        self.assertEqual(c.add(ns, "c", [doc("d1", embedding=(0.0, 1.0)), doc("d2")])
                         .added_count, 2)
        self.assertStats(ns, 3 * each, 3, 2)
        self.assertTrue(c.delete_doc(ns, "c", "d3").success)
        self.assertStats(ns, 2 * each, 2, 2)
        with self.assertRaises(grpc.RpcError) as e:  # an id twice in one request: refused
            c.add(ns, "c", [doc("d3"), doc("d3")])
        self.assertEqual(e.exception.details(), "documents[1].id duplicates documents[0].id")
        self.assertStats(ns, 2 * each, 2, 2)
        self.assertEqual(c.add(ns, "c", [doc("d3")]).added_count, 1)  # delete then re-add
        self.assertStats(ns, 3 * each, 3, 2)
        self.assertTrue(c.delete_collection(ns, "c").success)  # gives its 3 back
        self.assertStats(ns, 0, 0, 1)
        self.assertEqual(c.add(ns, "c2", docs).added_count, 3)
        self.assertStats(ns, 3 * each, 3, 1)

    def test_collections(self):
        c, ns = self.c, "q-coll"
        c.create_ns(ns, max_collections=2)
        self.assertTrue(c.create_collection(ns, "a").success)
        self.assertTrue(c.create_collection(ns, "b").success)  # exactly at the limit
        self.assertStats(ns, 0, 0, 2)
        self.assertExhausted("Namespace 'q-coll' collection quota exceeded (2/2)",
                             c.create_collection, ns, "c")
        self.assertEqual(c.coll.GetCollection(cpb.GetCollectionRequest(namespace=ns, name="c"))
                         .error, "Collection 'c' not found")
        self.assertStats(ns, 0, 0, 2)
        self.assertTrue(c.delete_collection(ns, "a").success)
        self.assertStats(ns, 0, 0, 1)
        self.assertTrue(c.create_collection(ns, "c").success)  # delete then re-create
        self.assertStats(ns, 0, 0, 2)
        self.assertEqual(sorted(x.name for x in c.coll.ListCollections(
            cpb.ListCollectionsRequest(namespace=ns)).collections), ["b", "c"])

    def test_lowering_below_usage_refuses_adds_not_deletes(self):
        c, ns = self.c, "q-lower"
        c.create_ns(ns)
        self.assertEqual(c.batch_put(ns, [(b"k%d" % i, b"v" * 8) for i in range(3)]), 3)
        self.assertTrue(c.create_collection(ns, "c").success)
        self.assertEqual(c.add(ns, "c", [doc("d1"), doc("d2")]).added_count, 2)
        used = 30 + 2 * doc_bytes(doc("d1"))
        self.assertStats(ns, used, 2, 1)
        c.set_quota(ns, max_storage_bytes=10, max_vectors=1, max_collections=1)
        self.assertExhausted("Namespace 'q-lower' storage quota exceeded (%d + 3 > 10 bytes)"
                             % used, c.put, ns, b"new", b"")
        self.assertExhausted("Namespace 'q-lower' vector quota exceeded (2 + 1 > 1)",
                             c.add, ns, "c", [doc("d3")])
        self.assertExhausted("Namespace 'q-lower' collection quota exceeded (1/1)",
                             c.create_collection, ns, "c2")
        self.assertTrue(c.put(ns, b"k0", b"w" * 8))  # an overwrite that adds nothing passes
        self.assertTrue(c.put(ns, b"k1", b"w"))  # so does a shrink
        self.assertStats(ns, used - 7, 2, 1)
        self.assertTrue(c.delete(ns, b"k2"))
        self.assertTrue(c.delete_doc(ns, "c", "d2").success)
        self.assertStats(ns, used - 7 - 10 - doc_bytes(doc("d2")), 1, 1)
        self.assertTrue(c.delete_collection(ns, "c").success)
        self.assertStats(ns, 13, 0, 0)
        c.set_quota(ns)  # no quota: no limits
        got = c.ns.GetNamespace(npb.GetNamespaceRequest(name=ns)).namespace
        self.assertFalse(got.HasField("quota"))
        self.assertTrue(c.put(ns, b"big", b"x" * 10000))
        for name in ("c", "c2"):
            self.assertTrue(c.create_collection(ns, name).success)
        self.assertEqual(c.add(ns, "c", [doc("d%d" % i) for i in range(5)]).added_count, 5)
        self.assertStats(ns, 13 + 10003 + 5 * doc_bytes(doc("d0")), 5, 2)

    def test_registering_counts_existing_data(self):
        c, ns = self.c, "q-pre"
        self.assertEqual(c.batch_put(ns, [(b"a", b"1" * 9), (b"b", b"2" * 19)]), 2)
        self.assertTrue(c.create_collection(ns, "c").success)
        self.assertEqual(c.add(ns, "c", [doc("d1"), doc("d2")]).added_count, 2)
        created = c.create_ns(ns, max_storage_bytes=100, max_vectors=2, max_collections=1)
        used = 30 + 2 * doc_bytes(doc("d1"))
        s = created.stats
        self.assertEqual((s.storage_bytes, s.vector_count, s.collection_count), (used, 2, 1))
        self.assertStats(ns, used, 2, 1)
        self.assertExhausted("Namespace 'q-pre' vector quota exceeded (2 + 1 > 2)",
                             c.add, ns, "c", [doc("d3")])
        self.assertExhausted("Namespace 'q-pre' collection quota exceeded (1/1)",
                             c.create_collection, ns, "c2")
        self.assertTrue(c.put(ns, b"x", b"y" * (100 - used - 1)))  # exactly at the limit
        self.assertStats(ns, 100, 2, 1)
        self.assertExhausted("Namespace 'q-pre' storage quota exceeded (100 + 2 > 100 bytes)",
                             c.put, ns, b"zz", b"")

    def test_concurrent_writers_fill_exactly_to_the_limit(self):
        c, ns = self.c, "q-race"
        c.create_ns(ns, max_storage_bytes=1000)
        refused = []

        def fill(worker):
            w = Client(self.server.address())
            for i in range(60):  # 4 x 60 keys of 10 bytes: 240 tries, 100 fit
                try:
                    w.put(ns, b"w%d/%04d" % (worker, i), b"v" * 3)
                except grpc.RpcError as e:
                    refused.append((e.code(), e.details()))
            w.close()

        threads = [threading.Thread(target=fill, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(c.scan(ns)), 100)
        self.assertStats(ns, 1000)
        self.assertEqual(set(refused), {(EXHAUSTED, "Namespace 'q-race' storage quota exceeded "
                                                    "(1000 + 10 > 1000 bytes)")})
        self.assertEqual(len(refused), 140)

    def test_collection_dropped_while_documents_arrive(self):
        c, ns = self.c, "q-drop"
        c.create_ns(ns, max_vectors=1000)
        self.assertTrue(c.create_collection(ns, "c").success)
        stop = threading.Event()
        answers = []

        def add():
            w = Client(self.server.address())
            n = 0
            while not stop.is_set():
                r = w.add(ns, "c", [doc("d%d" % n), doc("e%d" % n)])
                answers.append(r.error or r.added_count)
                n += 1
            w.close()

        writer = threading.Thread(target=add)
        writer.start()
        while len(answers) < 20:
            time.sleep(0.005)
        self.assertTrue(c.delete_collection(ns, "c").success)
        deleted_at = len(answers)
        while len(answers) < deleted_at + 5:
            time.sleep(0.005)
        stop.set()
        writer.join()
        self.assertEqual(answers[-1], "Collection 'c' not found")
        self.assertStats(ns, 0, 0, 0)  # the drop gave back whatever had been added

    def test_force_delete_with_writers_running(self):
        c, ns = self.c, "q-del"
        c.create_ns(ns, max_storage_bytes=1 << 30)
        for batch in range(4):  # data for the delete to remove while the writers run
            self.assertEqual(c.batch_put(ns, [(b"old/%d/%d" % (batch, i), b"v" * 100)
                                              for i in range(500)]), 500)
        writers = [DeleteRaceWriter(self.server.address(), ns, "put"),
                   DeleteRaceWriter(self.server.address(), ns, "batch")]
        for w in writers:
            w.start()
        while min(w.acked() for w in writers) < 20:
            time.sleep(0.005)
        sent = time.monotonic()
        acked_before = [w.acked() for w in writers]
        r = c.ns.DeleteNamespace(npb.DeleteNamespaceRequest(name=ns, force=True))
        took = time.monotonic() - sent
        self.assertTrue(r.success, r.error)
        self.assertEqual(c.ns.GetNamespace(npb.GetNamespaceRequest(name=ns)).error,
                         "Namespace 'q-del' not found")
        # Let the writers go on a little past the delete, then stop them.
        settled = [w.acked() for w in writers]
        while any(w.acked() < n + 20 for w, n in zip(writers, settled)):
            time.sleep(0.005)
        for w in writers:
            w.stop()
        present = {k for k, _ in c.scan(ns)}
        self.assertFalse({k for k in present if k.startswith(b"old/")})
        for w, before in zip(writers, acked_before):
            # Each writer writes one key after another, so its outcomes, in order, must be:
            # acknowledged and deleted (before the gate closed), refused "is being deleted"
            # (while the delete ran), acknowledged and kept (after it finished). A kept key
            # before a deleted one, or a refusal outside the delete, would mean the delete
            # missed a write or refused one it should not have.
            outcomes = w.outcomes(present)
            pattern = "".join(o for o, _ in outcomes)
            self.assertRegex(pattern, r"^D*R*S*$", w.kind)
            self.assertEqual(pattern[:before], "D" * before, w.kind)  # acked before we asked
            self.assertTrue(pattern.endswith("S"), w.kind)
            for o, err in outcomes:
                if o == "R":
                    self.assertEqual(err, (grpc.StatusCode.FAILED_PRECONDITION,
                                           "Namespace 'q-del' is being deleted"))
            print("%s writer: %d deleted, %d refused, %d kept; the delete took %.0f ms" % (
                w.kind, pattern.count("D"), pattern.count("R"), pattern.count("S"),
                1000 * took), file=sys.stderr)
        # Registered again, the namespace counts exactly what the writers left.
        c.create_ns(ns)
        self.assertStats(ns, sum(len(k) + len(v) for k, v in c.scan(ns)))

    def test_delete_waits_for_an_open_scan_and_refuses_writes_meanwhile(self):
        c, ns = self.c, "q-held"
        c.create_ns(ns)
        big = b"v" * 4096  # 8 MiB in all: more than the stream's flow-control window
        for batch in range(4):
            self.assertEqual(c.batch_put(ns, [(b"old/%d/%d" % (batch, i), big)
                                              for i in range(500)]), 500)
        scan = c.kv.Scan(kpb.KvScanRequest(namespace=ns))
        self.assertEqual(next(scan).key, b"old/0/0")  # the stream is open: it holds the gate
        deleting = c.ns.DeleteNamespace.future(
            npb.DeleteNamespaceRequest(name=ns, force=True))
        # The delete closes the namespace and waits for the scan; writes are refused meanwhile.
        n, deadline = 0, time.time() + 10
        while True:
            key = b"new/%d" % n
            try:
                self.assertTrue(c.put(ns, key, b"x"))
            except grpc.RpcError as e:
                self.assertEqual((e.code(), e.details()), (
                    grpc.StatusCode.FAILED_PRECONDITION, "Namespace 'q-held' is being deleted"))
                break
            self.assertLess(time.time(), deadline, "no write was refused")
            n += 1
        self.assertFalse(deleting.done())
        refused = key
        self.assertEqual(sum(1 for _ in scan), 1999)  # its snapshot, to the end
        self.assertTrue(deleting.result(timeout=30).success)
        self.assertEqual(c.scan(ns), [])  # the writes acknowledged before the refusal went too
        self.assertTrue(c.put(ns, refused, b"x"))  # open again once deleted
        self.assertEqual(c.scan(ns), [(refused, b"x")])


class RestartCase(QuotaCase):
    ARGS = []

    def setUp(self):
        work = os.path.join(WORK, self._testMethodName)
        os.makedirs(work)
        self.server, self.c = serve(work, self.ARGS)

    def tearDown(self):
        shut(self.server, self.c)

    def restart(self, sig):
        self.c.close()
        self.server.stop(sig)
        self.server.start()
        self.c = Client(self.server.address())

    def all_stats(self):
        return {name: (n.stats.storage_bytes, n.stats.vector_count, n.stats.collection_count,
                       n.quota.max_storage_bytes, n.quota.max_vectors, n.quota.max_collections)
                for name, n in self.c.listed().items()}



class QuotaAcrossRestarts(RestartCase):
    def test_stats_survive_sigterm(self):
        c = self.c
        c.create_ns("r-kv", max_storage_bytes=1000)
        c.create_ns("r-docs", max_vectors=3, max_collections=2)
        self.assertEqual(c.batch_put("r-kv", [(b"k%d" % i, b"v" * i) for i in range(10)]), 10)
        self.assertTrue(c.put("r-kv", b"k3", b"shorter"[:2]))
        self.assertTrue(c.delete("r-kv", b"k9"))
        self.assertTrue(c.put("r-kv", b"long-ttl", b"x" * 50, ttl_seconds=3600))
        self.assertTrue(c.create_collection("r-docs", "c").success)
        self.assertEqual(c.add("r-docs", "c", [doc("d1", "one"), doc("d2", "two")])
                         .added_count, 2)
        self.assertTrue(c.delete_doc("r-docs", "c", "d1").success)
        self.assertEqual(c.add("r-docs", "c", [doc("d3", "three")]).added_count, 1)
        c.set_quota("r-kv", max_storage_bytes=111)
        self.assertStats("r-kv", 2 * 9 + sum(range(9)) - 3 + 2 + 8 + 50)  # = 111
        before = self.all_stats()
        self.assertEqual(before["r-docs"][:3],
                         (doc_bytes(doc("d2", "two")) + doc_bytes(doc("d3", "three")), 2, 1))
        self.restart(signal.SIGTERM)
        self.assertEqual(self.all_stats(), before)
        # And the quotas hold against the counts the server rebuilt.
        self.assertExhausted("Namespace 'r-kv' storage quota exceeded (111 + 2 > 111 bytes)",
                             self.c.put, "r-kv", b"k9", b"")
        self.assertExhausted("Namespace 'r-docs' vector quota exceeded (2 + 2 > 3)",
                             self.c.add, "r-docs", "c", [doc("d4"), doc("d5")])
        self.assertEqual(self.c.add("r-docs", "c", [doc("d4")]).added_count, 1)
        self.assertStats("r-docs", before["r-docs"][0] + doc_bytes(doc("d4")), 3, 1)

    def test_stats_after_kill9_mid_stream_equal_a_recount(self):
        c, ns = self.c, "r-crash"
        c.create_ns(ns, max_storage_bytes=1 << 30)
        stop = threading.Event()
        acked = []

        def write():
            w = Client(self.server.address())
            n = 0
            try:
                while not stop.is_set():
                    # New keys, overwrites that grow and shrink, and deletes.
                    key = b"k%d" % (n % 300)
                    if n % 7 == 6:
                        w.delete(ns, key)
                    else:
                        w.put(ns, key, b"v" * (n * 13 % 97))
                    acked.append(n)
                    n += 1
            except grpc.RpcError:
                pass  # the server is gone
            finally:
                w.close()

        def add_documents():
            w = Client(self.server.address())
            n = 0
            try:
                while not stop.is_set():
                    doc_id = "d%d" % (n % 50)
                    if n % 5 == 4:
                        w.delete_doc(ns, "c", doc_id)
                    else:
                        w.add(ns, "c", [doc(doc_id, "c" * (n % 31), {"n": str(n)})])
                    acked.append(n)
                    n += 1
            except grpc.RpcError:
                pass
            finally:
                w.close()

        self.assertTrue(c.create_collection(ns, "c").success)
        writers = [threading.Thread(target=f) for f in (write, write, add_documents)]
        for t in writers:
            t.start()
        while len(acked) < 600:
            time.sleep(0.005)
        self.server.stop(signal.SIGKILL)
        stop.set()
        for t in writers:
            t.join()
        self.c.close()
        self.server.start()
        self.c = Client(self.server.address())
        docs = [self.c.get_doc(ns, "c", "d%d" % i).document for i in range(50)]
        docs = [d for d in docs if d.id]
        recount = (sum(len(k) + len(v) for k, v in self.c.scan(ns)) +
                   sum(doc_bytes(d) for d in docs))
        self.assertGreater(len(docs), 0)
        self.assertStats(ns, recount, len(docs), 1)
        # The rebuilt count is charged on from: one more write moves it exactly.
        self.assertTrue(self.c.put(ns, b"after", b"x" * 5))
        self.assertStats(ns, recount + 10, len(docs), 1)


class ExpiredBeforePurge(RestartCase):
    # No purge during the test: expired records stay in the store, and count, until a purge.
    ARGS = ["--ttl-purge-interval-ms", "600000"]

    def test_writes_over_expired_records_stay_exact(self):
        c, ns = self.c, "r-ttl"
        c.create_ns(ns, max_storage_bytes=1000)
        for key, size in ((b"a", 10), (b"b", 20), (b"c", 5)):
            self.assertTrue(c.put(ns, key, b"x" * size, ttl_seconds=1))
        self.assertTrue(c.put(ns, b"keep", b"y" * 4))
        self.assertStats(ns, 46)
        time.sleep(1.3)
        self.assertEqual(c.scan(ns), [(b"keep", b"yyyy")])
        self.assertStats(ns, 46)  # expired, not purged: still in the store
        self.assertTrue(c.put(ns, b"a", b"z" * 3))  # replaces the expired record
        self.assertStats(ns, 46 - 11 + 4)
        self.assertEqual(c.batch_put(ns, [(b"c", b"zz")]), 1)
        self.assertStats(ns, 46 - 11 + 4 - 6 + 3)
        # Absent to the caller (success false), but its record is removed and its bytes go back.
        self.assertFalse(c.delete(ns, b"b"))
        after_delete = 36 - 21
        self.assertStats(ns, after_delete)
        c.set_quota(ns, max_storage_bytes=after_delete)
        self.assertExhausted("Namespace 'r-ttl' storage quota exceeded (%d + 2 > %d bytes)"
                             % (after_delete, after_delete), c.put, ns, b"d", b"w")
        # What the ledger charged is what the store holds: a restart counts it anew.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            self.restart(sig)
            self.assertStats(ns, after_delete)


class DeleteRaceWriter(threading.Thread):
    """Writes keys <kind>/<n>, n = 0, 1, ..., one call at a time (Put or a one-entry BatchPut),
    and records each call's outcome."""

    def __init__(self, address, ns, kind):
        super().__init__(daemon=True)
        self.c = Client(address)
        self.ns, self.kind = ns, kind
        self.results = []  # (key, None or (code, details))
        self.stopping = threading.Event()

    def run(self):
        n = 0
        while not self.stopping.is_set():
            key = b"%s/%06d" % (self.kind.encode(), n)
            try:
                if self.kind == "put":
                    self.c.put(self.ns, key, b"v" * 10)
                else:
                    self.c.batch_put(self.ns, [(key, b"v" * 10)])
                self.results.append((key, None))
            except grpc.RpcError as e:
                self.results.append((key, (e.code(), e.details())))
            n += 1

    def acked(self):
        return sum(1 for _, err in list(self.results) if err is None)

    def stop(self):
        self.stopping.set()
        self.join()
        self.c.close()

    def outcomes(self, present):
        """Per call: 'D' acknowledged and gone, 'S' acknowledged and kept, 'R' refused."""
        return [("R" if err else "S" if key in present else "D", err)
                for key, err in self.results]


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
