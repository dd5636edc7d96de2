"""CollectionService end to end from Python, as SochDBClient calls it.

create_collection / add_documents / search_collection exactly as the SDK sends them (namespace
"default" and another, exact-match filter), plus the extensions a grpcio user can set
(filter_json, text_query for hybrid search).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from sochdb.v1 import collection_pb2 as pb  # noqa: E402
from sochdb.v1 import collection_pb2_grpc as pb_grpc  # noqa: E402
from sochdb.v1 import common_pb2  # noqa: E402


class CollectionClient:
    """The collection half of SochDBClient (sochdb/grpc_client.py)."""

    def __init__(self, address):
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.CollectionServiceStub(self.channel)

    def create_collection(self, name, dimension, namespace="default", metric="cosine"):
        enum_name = "DISTANCE_METRIC_" + metric.upper()
        value = common_pb2.DistanceMetric.Value(enum_name) \
            if enum_name in common_pb2.DistanceMetric.keys() else 2
        return self.stub.CreateCollection(pb.CreateCollectionRequest(
            name=name, namespace=namespace, dimension=dimension, metric=value)).success

    def add_documents(self, collection_name, documents, namespace="default"):
        docs = [pb.Document(id=d.get("id", ""), content=d.get("content", ""),
                            embedding=d.get("embedding", []), metadata=d.get("metadata", {}))
                for d in documents]
        return list(self.stub.AddDocuments(pb.AddDocumentsRequest(
            collection_name=collection_name, namespace=namespace, documents=docs)).ids)

    def search_collection(self, collection_name, query, k=10, namespace="default", filter=None):
        r = self.stub.SearchCollection(pb.SearchCollectionRequest(
            collection_name=collection_name, namespace=namespace, query=query, k=k,
            filter=filter or {}))
        return [x.document for x in r.results]

    def close(self):
        self.channel.close()


class CollectionEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = sochdb_e2e.Server(WORK).start()
        cls.client = CollectionClient(cls.server.address())

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def test_sdk_flow_in_two_namespaces(self):
        c = self.client
        for ns in ("default", "agent-42"):
            self.assertTrue(c.create_collection("kb", 3, namespace=ns))
        ids = c.add_documents("kb", [
            {"content": "paris is in france", "embedding": [1, 0, 0], "metadata": {"lang": "en"}},
            {"id": "doc-2", "content": "berlin", "embedding": [0, 1, 0], "metadata": {"lang": "de"}},
        ])
        self.assertEqual(len(ids[0]), 36)
        self.assertEqual(ids[1], "doc-2")
        docs = c.search_collection("kb", [0.9, 0.1, 0], k=2)
        self.assertEqual([d.content for d in docs], ["paris is in france", "berlin"])
        self.assertEqual(list(docs[0].embedding), [1.0, 0.0, 0.0])
        self.assertEqual([d.id for d in c.search_collection("kb", [1, 0, 0], filter={"lang": "de"})],
                         ["doc-2"])
        self.assertEqual(c.search_collection("kb", [1, 0, 0], namespace="agent-42"), [])
        self.assertFalse(c.create_collection("kb", 3))  # exists: success=False, no exception
        # One id twice in a call is refused: which document should win is not the server's guess.
        with self.assertRaises(grpc.RpcError) as caught:
            c.add_documents("kb", [{"id": "x", "content": "1", "embedding": [1, 0, 0]},
                                   {"id": "x", "content": "2", "embedding": [0, 1, 0]}])
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.details(), "documents[1].id duplicates documents[0].id")

    def test_extensions_from_grpcio(self):
        c = self.client
        r = c.stub.CreateCollection(pb.CreateCollectionRequest(
            name="hybrid", namespace="default", dimension=2, enable_hybrid_search=True))
        self.assertTrue(r.success)
        c.add_documents("hybrid", [
            {"id": "a", "content": "vector databases store embeddings", "embedding": [1, 0],
             "metadata": {"year": "2021"}},
            {"id": "b", "content": "keyword search with bm25", "embedding": [0, 1],
             "metadata": {"year": "2019"}},
        ])
        keyword = c.stub.SearchCollection(pb.SearchCollectionRequest(
            collection_name="hybrid", namespace="default", k=5, text_query="bm25"))
        self.assertEqual([x.document.id for x in keyword.results], ["b"])
        filtered = c.stub.SearchCollection(pb.SearchCollectionRequest(
            collection_name="hybrid", namespace="default", query=[0, 1], k=5,
            filter_json='{"year": {"$gte": 2020}}'))
        self.assertEqual([x.document.id for x in filtered.results], ["a"])
        with self.assertRaises(grpc.RpcError) as caught:
            c.stub.SearchCollection(pb.SearchCollectionRequest(
                collection_name="hybrid", namespace="default", query=[0, 1], k=5,
                filter_json="{not json"))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
