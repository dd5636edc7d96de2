"""Helpers of the retrieval v2 and capability end-to-end tests: a client over VectorIndexService,
RetrievalService, RetrievalExtensionService and CapabilityService, and a token signer that
follows ../shared/UPSTREAM.md §2.10 byte for byte (so tests can forge, expire and mis-scope
tokens the server must refuse)."""

import hashlib
import hmac
import os
import struct
import time

import grpc
import sochdb_e2e

SIGNING_KEY = b"retrieval-e2e-signing-key-0123456789abcdef"


def write_key_file(work_dir, key=SIGNING_KEY):
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, "signing-key")
    with open(path, "wb") as f:
        f.write(key + b"\n")
    os.chmod(path, 0o600)
    return path


def now_ms():
    return int(time.time() * 1000)


def canonical(index_key, tenant, scope, expires, operation):
    out = b""
    for field in (index_key, tenant, scope):
        data = field.encode()
        out += struct.pack(">Q", len(data)) + data
    return out + struct.pack(">Q", expires) + struct.pack(">i", operation)


def sign(rpb, index_key, tenant, operation, scope="", ttl_ms=60_000, key=SIGNING_KEY,
         expires=None):
    expires = now_ms() + ttl_ms if expires is None else expires
    sig = hmac.new(key, canonical(index_key, tenant, scope, expires, operation),
                   hashlib.sha256).digest()
    return rpb.RetrievalCapabilityToken(index_key=index_key, tenant_id=tenant,
                                        expires_at_unix_ms=expires, policy_scope_digest=scope,
                                        operation=operation, signature=sig)


def evidence_digest(object_id, generation, snapshot, candidates):
    h = hashlib.sha256()
    h.update(struct.pack(">QQ", object_id[0], object_id[1]))
    h.update(struct.pack(">Q", generation))
    h.update(struct.pack(">Q", len(snapshot.encode())) + snapshot.encode())
    h.update(struct.pack(">Q", len(candidates)))
    for c in candidates:
        h.update(struct.pack(">QQ", c.id.high, c.id.low))
        h.update(struct.pack(">f", c.distance))
    return h.hexdigest()


def operation_id(object_id, generation, snapshot, sequence):
    h = hashlib.sha256()
    h.update(struct.pack(">QQ", object_id[0], object_id[1]))
    h.update(struct.pack(">Q", generation))
    h.update(struct.pack(">Q", len(snapshot.encode())) + snapshot.encode())
    h.update(struct.pack(">Q", sequence))
    return h.hexdigest()


class RetrievalClient:
    def __init__(self, address, key=None):
        from sochdb.v1 import capability_pb2_grpc, retrieval_extension_pb2_grpc
        from sochdb.v1 import retrieval_pb2_grpc, vector_index_pb2_grpc
        self.channel, channel = sochdb_e2e.keyed_channel(address, key)
        self.vectors = vector_index_pb2_grpc.VectorIndexServiceStub(channel)
        self.retrieval = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        self.extension = retrieval_extension_pb2_grpc.RetrievalExtensionServiceStub(channel)
        self.capabilities = capability_pb2_grpc.CapabilityServiceStub(channel)

    def close(self):
        self.channel.close()


def status_of(call, *args, **kwargs):
    """The gRPC status code and details of a call expected to fail."""
    try:
        call(*args, **kwargs)
    except grpc.RpcError as e:
        return e.code(), e.details()
    raise AssertionError("the call succeeded")
