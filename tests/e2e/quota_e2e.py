"""Helpers of quota_e2e_test.py: documents and their counted bytes, a client of the KV,
collection and namespace services, and a TestCase that reads NamespaceStats and checks
RESOURCE_EXHAUSTED texts. Import after sochdb_e2e.generate_stubs.
"""

import unittest

import grpc
from sochdb.v1 import collection_document_pb2 as dpb
from sochdb.v1 import collection_document_pb2_grpc as dpb_grpc
from sochdb.v1 import collection_pb2 as cpb
from sochdb.v1 import collection_pb2_grpc as cpb_grpc
from sochdb.v1 import common_pb2
from sochdb.v1 import kv_pb2 as kpb
from sochdb.v1 import kv_pb2_grpc as kpb_grpc
from sochdb.v1 import namespace_pb2 as npb
from sochdb.v1 import namespace_pb2_grpc as npb_grpc

import sochdb_e2e

EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def doc(doc_id, content="", metadata=None, embedding=(1.0, 0.0), extra=()):
    return cpb.Document(id=doc_id, content=content, embedding=list(embedding),
                        metadata=metadata or {},
                        extra_embeddings=[cpb.Vector(values=list(v)) for v in extra])


def doc_bytes(d):
    """A document's storage bytes as usage_ledger.h defines them."""
    floats = len(d.embedding) + sum(len(v.values) for v in d.extra_embeddings)
    return (len(d.id.encode()) + len(d.content.encode()) +
            sum(len(k.encode()) + len(v.encode()) for k, v in d.metadata.items()) + 4 * floats)


class Client:
    """KV, collection and namespace stubs over one channel, with the few calls the tests make."""

    def __init__(self, address):
        self.channel = grpc.insecure_channel(address)
        self.kv = kpb_grpc.KvServiceStub(self.channel)
        self.coll = cpb_grpc.CollectionServiceStub(self.channel)
        self.docs = dpb_grpc.CollectionDocumentServiceStub(self.channel)
        self.ns = npb_grpc.NamespaceServiceStub(self.channel)

    def close(self):
        self.channel.close()

    def put(self, ns, key, value, ttl_seconds=0):
        return self.kv.Put(kpb.KvPutRequest(namespace=ns, key=key, value=value,
                                            ttl_seconds=ttl_seconds)).success

    def batch_put(self, ns, pairs):
        return self.kv.BatchPut(kpb.KvBatchPutRequest(namespace=ns, entries=[
            kpb.KvPutEntry(key=k, value=v) for k, v in pairs])).success_count

    def get(self, ns, key):
        r = self.kv.Get(kpb.KvGetRequest(namespace=ns, key=key))
        return r.value if r.found else None

    def delete(self, ns, key):
        return self.kv.Delete(kpb.KvDeleteRequest(namespace=ns, key=key)).success

    def scan(self, ns):
        return [(r.key, r.value) for r in self.kv.Scan(kpb.KvScanRequest(namespace=ns))]

    def create_collection(self, ns, name, dimension=2):
        return self.coll.CreateCollection(cpb.CreateCollectionRequest(
            namespace=ns, name=name, dimension=dimension,
            metric=common_pb2.DISTANCE_METRIC_COSINE))

    def delete_collection(self, ns, name):
        return self.coll.DeleteCollection(cpb.DeleteCollectionRequest(namespace=ns, name=name))

    def add(self, ns, collection, docs):
        return self.coll.AddDocuments(cpb.AddDocumentsRequest(
            namespace=ns, collection_name=collection, documents=docs))

    def get_doc(self, ns, collection, doc_id):
        return self.coll.GetDocument(cpb.GetDocumentRequest(
            namespace=ns, collection_name=collection, document_id=doc_id))

    def delete_doc(self, ns, collection, doc_id):
        return self.coll.DeleteDocument(cpb.DeleteDocumentRequest(
            namespace=ns, collection_name=collection, document_id=doc_id))

    def update_metadata(self, ns, collection, doc_id, metadata, merge=False):
        return self.docs.UpdateDocumentMetadata(dpb.UpdateDocumentMetadataRequest(
            namespace=ns, collection_name=collection, document_id=doc_id, metadata=metadata,
            merge=merge))

    def create_ns(self, name, **quota):
        r = self.ns.CreateNamespace(npb.CreateNamespaceRequest(
            name=name, quota=npb.NamespaceQuota(**quota) if quota else None))
        assert r.success, r.error
        return r.namespace

    def set_quota(self, name, **quota):
        r = self.ns.SetQuota(npb.SetQuotaRequest(
            namespace=name, quota=npb.NamespaceQuota(**quota) if quota else None))
        assert r.success, r.error

    def listed(self):
        return {n.name: n for n in self.ns.ListNamespaces(npb.ListNamespacesRequest()).namespaces}


def serve(work, args=()):
    """(the server started in `work`, a Client of it)."""
    server = sochdb_e2e.Server(work, list(args)).start()
    return server, Client(server.address())


def shut(server, client):
    client.close()
    if server.process.poll() is None:
        server.stop()


class QuotaCase(unittest.TestCase):
    c = None  # the Client of the test's server

    def stats(self, ns):
        """(storage_bytes, vector_count, collection_count), the same through Get and List."""
        got = self.c.ns.GetNamespace(npb.GetNamespaceRequest(name=ns))
        self.assertEqual(got.error, "")
        s = got.namespace.stats
        mine = (s.storage_bytes, s.vector_count, s.collection_count)
        s = self.c.listed()[ns].stats
        self.assertEqual((s.storage_bytes, s.vector_count, s.collection_count), mine)
        return mine

    def assertStats(self, ns, storage, vectors=0, collections=0):
        self.assertEqual(self.stats(ns), (storage, vectors, collections))

    def assertExhausted(self, text, call, *args):
        with self.assertRaises(grpc.RpcError) as e:
            call(*args)
        self.assertEqual(e.exception.code(), EXHAUSTED)
        self.assertEqual(e.exception.details(), text)
