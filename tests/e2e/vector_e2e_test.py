"""VectorIndexService end to end from Python, as SochDBClient calls it.

create_index / insert_vectors / search exactly as the SDK sends them (metric strings mapped to
the DistanceMetric enum the SDK's way, config with max_connections / ef_construction), checked
against brute-force nearest neighbours computed here.
"""

import math
import os
import random
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from sochdb.v1 import vector_index_pb2 as pb  # noqa: E402
from sochdb.v1 import vector_index_pb2_grpc as pb_grpc  # noqa: E402
from sochdb.v1 import common_pb2  # noqa: E402


class VectorClient:
    """The vector half of SochDBClient (sochdb/grpc_client.py)."""

    def __init__(self, address):
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.VectorIndexServiceStub(self.channel)

    def create_index(self, name, dimension, metric="cosine", m=32, ef_construction=256, ef_search=0):
        enum_name = "DISTANCE_METRIC_" + metric.upper()
        metric_value = common_pb2.DistanceMetric.Value(enum_name) \
            if enum_name in common_pb2.DistanceMetric.keys() else 2
        r = self.stub.CreateIndex(pb.CreateIndexRequest(
            name=name, dimension=dimension, metric=metric_value,
            config=pb.HnswConfig(max_connections=m, ef_construction=ef_construction,
                                 ef_search=ef_search)))
        return r.success

    def insert_vectors(self, index_name, ids, vectors):
        flat = [x for v in vectors for x in v]
        return self.stub.InsertBatch(
            pb.InsertBatchRequest(index_name=index_name, ids=ids, vectors=flat)).inserted_count

    def search(self, index_name, query, k=10, ef=0):
        r = self.stub.Search(pb.SearchRequest(index_name=index_name, query=query, k=k, ef=ef))
        return [(x.id, x.distance) for x in r.results]

    def close(self):
        self.channel.close()


def l2(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def cosine_distance(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return 1.0 - dot / (na * nb)


class VectorEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = sochdb_e2e.Server(WORK).start()
        cls.client = VectorClient(cls.server.address())
        rng = random.Random(7)
        cls.vectors = [[rng.gauss(0, 1) for _ in range(16)] for _ in range(400)]

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def check_against_brute_force(self, name, metric, distance):
        c = self.client
        self.assertTrue(c.create_index(name, 16, metric=metric))
        self.assertEqual(c.insert_vectors(name, list(range(400)), self.vectors), 400)
        query = self.vectors[3]
        got = c.search(name, query, k=5)
        expected = sorted((distance(v, query), i) for i, v in enumerate(self.vectors))[:5]
        self.assertEqual([i for i, _ in got], [i for _, i in expected])
        for (_, d), (e, _) in zip(got, expected):
            self.assertAlmostEqual(d, e, places=4)

    def test_cosine_index(self):
        self.check_against_brute_force("py-cosine", "cosine", cosine_distance)

    def test_l2_index(self):
        self.check_against_brute_force("py-l2", "l2", l2)

    def test_errors(self):
        c = self.client
        self.assertTrue(c.create_index("py-err", 4))
        self.assertFalse(c.create_index("py-err", 4))  # duplicate: success=False, no exception
        with self.assertRaises(grpc.RpcError) as caught:
            c.search("py-err", [1.0, 2.0], k=1)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as caught:
            c.search("py-missing", [1.0, 2.0, 3.0, 4.0], k=1)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as caught:
            c.insert_vectors("py-err", [1], [[1.0, float("nan"), 0.0, 0.0]])
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_bad_input_is_refused_not_miscounted(self):
        c = self.client
        self.assertTrue(c.create_index("py-bad", 4, metric="l2"))
        # The SDK's insert_vectors returns inserted_count: an id twice is refused, not counted
        # twice.
        with self.assertRaises(grpc.RpcError) as caught:
            c.insert_vectors("py-bad", [7, 7, 7], [[1.0, 0.0, 0.0, 0.0]] * 3)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.details(), "ids[1] duplicates ids[0] (7)")
        self.assertEqual(c.insert_vectors("py-bad", [1, 2], [[1, 0, 0, 0], [0, 1, 0, 0]]), 2)
        with self.assertRaises(grpc.RpcError) as caught:
            c.search("py-bad", [1.0, 0.0, 0.0, 0.0], k=1, ef=70000)
        self.assertEqual(caught.exception.details(), "ef is 70000; the range is 0..65536")
        with self.assertRaises(grpc.RpcError) as caught:
            c.stub.SearchBatch(pb.SearchBatchRequest(
                index_name="py-bad", num_queries=2, k=1,
                queries=[1, 0, 0, 0, 0, 1, float("nan"), 0]))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.details(), "queries[1][2] is NaN")

    def test_insert_stream_names_the_bad_message(self):
        c = self.client
        self.assertTrue(c.create_index("py-stream", 2, metric="l2"))
        messages = [pb.InsertStreamRequest(index_name="py-stream", id=1, vector=[1, 1]),
                    pb.InsertStreamRequest(id=2, vector=[1, 1, 1]),
                    pb.InsertStreamRequest(id=3, vector=[2, 2])]
        r = c.stub.InsertStream(iter(messages))
        self.assertEqual(r.total_inserted, 2)
        self.assertEqual(list(r.errors),
                         ["stream message 2: vector has 3 floats; the dimension is 2"])
        self.assertEqual([i for i, _ in c.search("py-stream", [2, 2], k=2)], [3, 1])


class HugePageMalloc(unittest.TestCase):
    """The server re-executes itself once with glibc's huge-page malloc on, unless told.

    Its start-up line says which (/proc/<pid>/environ cannot: glibc rewrites the original
    GLIBC_TUNABLES string in place while it parses it).
    """

    def run_server(self, tunables):
        env = dict(os.environ)
        env.pop("GLIBC_TUNABLES", None)
        if tunables is not None:
            env["GLIBC_TUNABLES"] = tunables
        work = sochdb_e2e.temp_dir()
        server = sochdb_e2e.Server(work, env=env).start()
        try:
            c = VectorClient(server.address())
            self.assertTrue(c.create_index("hp", 3, metric="l2"))
            self.assertEqual(c.insert_vectors("hp", [1, 2], [[0, 0, 0], [1, 1, 1]]), 2)
            self.assertEqual([i for i, _ in c.search("hp", [1, 1, 1], k=1)], [2])
            c.close()
        finally:
            self.assertEqual(server.stop(signal.SIGTERM), 0)
        log = server.log()
        sochdb_e2e.cleanup(work)
        self.assertEqual(log.count(" serving "), 1, log)  # one start-up: at most one re-exec
        return "huge-page malloc on" in log

    def test_turned_on_by_default(self):
        self.assertTrue(self.run_server(None))

    def test_added_to_other_tunables(self):
        self.assertTrue(self.run_server("glibc.malloc.arena_max=4"))

    def test_operator_opt_out_is_kept(self):
        self.assertFalse(self.run_server("glibc.malloc.hugetlb=0"))


class VectorRestart(unittest.TestCase):
    def test_vectors_survive_kill9(self):
        work = sochdb_e2e.temp_dir()
        server = sochdb_e2e.Server(work).start()
        c = VectorClient(server.address())
        self.assertTrue(c.create_index("keep", 3, metric="l2"))
        self.assertEqual(c.insert_vectors("keep", [10, 11], [[0, 0, 0], [5, 5, 5]]), 2)
        c.close()
        server.stop(signal.SIGKILL)
        server.start()
        c = VectorClient(server.address())
        self.assertEqual([i for i, _ in c.search("keep", [4, 4, 4], k=2)], [11, 10])
        c.close()
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        sochdb_e2e.cleanup(work)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
