"""KvService end to end from Python, as the SochDB SDK and grpcio users call it.

Starts the real server, generates stubs from our .proto files at test time, and checks: the
SDK's KV calls in namespace "default" and another namespace, Scan/BatchGet/BatchPut, TTL, error
codes for bad input, health, and that data survives a restart.
"""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
from sochdb.v1 import kv_pb2  # noqa: E402


class KvEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = sochdb_e2e.Server(os.path.join(WORK)).start()
        cls.client = sochdb_e2e.KvClient(cls.server.address())

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def test_sdk_calls_in_default_and_another_namespace(self):
        c = self.client
        self.assertTrue(c.put(b"user:1", b"alice"))
        self.assertTrue(c.put(b"user:1", b"bob", namespace="agent-42"))
        self.assertEqual(c.get(b"user:1"), b"alice")
        self.assertEqual(c.get(b"user:1", namespace="agent-42"), b"bob")
        self.assertIsNone(c.get(b"user:2"))
        self.assertTrue(c.delete(b"user:1"))
        self.assertFalse(c.delete(b"user:1"))
        self.assertIsNone(c.get(b"user:1"))
        self.assertEqual(c.get(b"user:1", namespace="agent-42"), b"bob")

    def test_scan_batch_get_batch_put(self):
        c = self.client
        entries = [kv_pb2.KvPutEntry(key=b"doc/%02d" % i, value=b"v%d" % i) for i in range(20, 0, -1)]
        r = c.stub.BatchPut(kv_pb2.KvBatchPutRequest(namespace="scan-ns", entries=entries))
        self.assertEqual(r.success_count, 20)
        rows = c.scan(prefix=b"doc/", namespace="scan-ns")
        self.assertEqual([k for k, _ in rows], sorted(k for k, _ in rows))
        self.assertEqual(len(rows), 20)
        self.assertEqual(c.scan(prefix=b"doc/", namespace="scan-ns", limit=2),
                         [(b"doc/01", b"v1"), (b"doc/02", b"v2")])
        got = c.stub.BatchGet(kv_pb2.KvBatchGetRequest(namespace="scan-ns",
                                                       keys=[b"doc/05", b"nope", b"doc/01"]))
        self.assertEqual([(e.key, e.found, e.value) for e in got.entries],
                         [(b"doc/05", True, b"v5"), (b"nope", False, b""), (b"doc/01", True, b"v1")])

    def test_ttl_expires(self):
        c = self.client
        self.assertTrue(c.put(b"session", b"token", namespace="ttl", ttl_seconds=1))
        self.assertEqual(c.get(b"session", namespace="ttl"), b"token")
        time.sleep(1.3)
        self.assertIsNone(c.get(b"session", namespace="ttl"))

    def test_bad_input_raises_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.client.put(b"", b"value")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("key", caught.exception.details())
        with self.assertRaises(grpc.RpcError) as caught:
            self.client.put(b"k" * 20000, b"value")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("16384", caught.exception.details())

    def test_health_serving(self):
        stub = health_pb2_grpc.HealthStub(self.client.channel)
        self.assertEqual(stub.Check(health_pb2.HealthCheckRequest(service="")).status,
                         health_pb2.HealthCheckResponse.SERVING)
        self.assertEqual(
            stub.Check(health_pb2.HealthCheckRequest(service="sochdb.v1.KvService")).status,
            health_pb2.HealthCheckResponse.SERVING)


class RestartEndToEnd(unittest.TestCase):
    def test_data_survives_restart_and_kill9(self):
        work = sochdb_e2e.temp_dir()
        server = sochdb_e2e.Server(work).start()
        client = sochdb_e2e.KvClient(server.address())
        for i in range(50):
            self.assertTrue(client.put(b"k%d" % i, b"v%d" % i, namespace="restart"))
        client.close()
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        server.start()
        client = sochdb_e2e.KvClient(server.address())
        for i in range(50):
            self.assertEqual(client.get(b"k%d" % i, namespace="restart"), b"v%d" % i)
        self.assertTrue(client.put(b"last", b"acked", namespace="restart"))
        client.close()
        server.stop(signal.SIGKILL)
        server.start()
        client = sochdb_e2e.KvClient(server.address())
        self.assertEqual(client.get(b"last", namespace="restart"), b"acked")
        client.close()
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        sochdb_e2e.cleanup(work)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
