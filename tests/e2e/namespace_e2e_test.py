"""NamespaceService end to end from Python (grpcio stubs generated from our .proto files).

Checks, as a client written against upstream's proto sees it: create/get/list/set-quota, the
`error` field for "already exists"/"not found", a DeleteNamespace without the extension field
`force` (what an upstream client sends) refused while the namespace holds KV data, and with
`force` deleting that data.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from sochdb.v1 import namespace_pb2 as pb  # noqa: E402
from sochdb.v1 import namespace_pb2_grpc  # noqa: E402


class NamespaceEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = sochdb_e2e.Server(WORK, extra_args=["--sync", "off"]).start()
        cls.kv = sochdb_e2e.KvClient(cls.server.address())
        cls.channel = grpc.insecure_channel(cls.server.address())
        cls.stub = namespace_pb2_grpc.NamespaceServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.kv.close()
        cls.channel.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def test_registry_calls(self):
        r = self.stub.CreateNamespace(pb.CreateNamespaceRequest(
            name="py-proj", description="from python",
            quota=pb.NamespaceQuota(max_storage_bytes=1 << 20), metadata={"k": "v"}))
        self.assertTrue(r.success)
        self.assertEqual(r.namespace.metadata["k"], "v")
        again = self.stub.CreateNamespace(pb.CreateNamespaceRequest(name="py-proj"))
        self.assertFalse(again.success)
        self.assertEqual(again.error, "Namespace 'py-proj' already exists")
        got = self.stub.GetNamespace(pb.GetNamespaceRequest(name="py-proj"))
        self.assertEqual(got.namespace.description, "from python")
        self.assertEqual(got.namespace.quota.max_storage_bytes, 1 << 20)
        self.assertIn("py-proj",
                      [n.name for n in self.stub.ListNamespaces(pb.ListNamespacesRequest())
                       .namespaces])
        s = self.stub.SetQuota(pb.SetQuotaRequest(namespace="py-proj"))  # no quota: cleared
        self.assertTrue(s.success)
        got = self.stub.GetNamespace(pb.GetNamespaceRequest(name="py-proj"))
        self.assertFalse(got.namespace.HasField("quota"))
        missing = self.stub.GetNamespace(pb.GetNamespaceRequest(name="py-missing"))
        self.assertEqual(missing.error, "Namespace 'py-missing' not found")
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.CreateNamespace(pb.CreateNamespaceRequest(name=""))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(e.exception.details(), "name must not be empty")

    def test_delete_needs_force_while_data_is_held(self):
        self.assertTrue(self.stub.CreateNamespace(pb.CreateNamespaceRequest(name="py-del")).success)
        for i in range(10):
            self.assertTrue(self.kv.put(b"k%d" % i, b"v", namespace="py-del", ttl_seconds=i))
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.DeleteNamespace(pb.DeleteNamespaceRequest(name="py-del"))
        self.assertEqual(e.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(e.exception.details(),
                         "Namespace 'py-del' is not empty (it holds KV keys); set force to "
                         "delete it with its data")
        self.assertEqual(len(self.kv.scan(namespace="py-del")), 10)
        r = self.stub.DeleteNamespace(pb.DeleteNamespaceRequest(name="py-del", force=True))
        self.assertTrue(r.success)
        self.assertEqual(self.kv.scan(namespace="py-del"), [])
        gone = self.stub.DeleteNamespace(pb.DeleteNamespaceRequest(name="py-del"))
        self.assertFalse(gone.success)
        self.assertEqual(gone.error, "Namespace 'py-del' not found")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
