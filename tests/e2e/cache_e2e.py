"""What the semantic cache end-to-end tests share: a client with the SochDB Python SDK's two cache
calls (SochDBClient.cache_get / cache_put, ../shared/UPSTREAM.md §5: same requests, same answers)
and the rest of SemanticCacheService and SemanticCacheExtensionService, and unit vectors to
build embeddings with known cosines. Import after sochdb_e2e.generate_stubs."""

import math

import sochdb_e2e
from sochdb.v1 import semantic_cache_extension_pb2 as xpb
from sochdb.v1 import semantic_cache_extension_pb2_grpc as xpb_grpc
from sochdb.v1 import semantic_cache_pb2 as pb
from sochdb.v1 import semantic_cache_pb2_grpc as pb_grpc


class CacheClient:
    def __init__(self, address, key=None):
        self.channel, keyed = sochdb_e2e.keyed_channel(address, key)
        self.stub = pb_grpc.SemanticCacheServiceStub(keyed)
        self.ext = xpb_grpc.SemanticCacheExtensionServiceStub(keyed)

    # The SDK's calls, exactly as SochDBClient makes them.
    def cache_get(self, cache_name, query_embedding, threshold=0.85):
        r = self.stub.Get(pb.SemanticCacheGetRequest(
            cache_name=cache_name, query_embedding=query_embedding,
            similarity_threshold=threshold))
        return r.cached_value if r.hit else None

    def cache_put(self, cache_name, key, value, key_embedding, ttl_seconds=0):
        r = self.stub.Put(pb.SemanticCachePutRequest(
            cache_name=cache_name, key=key, value=value, key_embedding=key_embedding,
            ttl_seconds=ttl_seconds))
        return r.success

    # The rest of the service.
    def get(self, cache_name, embedding=(), threshold=0.0, query=""):
        return self.stub.Get(pb.SemanticCacheGetRequest(
            cache_name=cache_name, query=query, query_embedding=list(embedding),
            similarity_threshold=threshold))

    def invalidate(self, cache_name, pattern=""):
        return self.stub.Invalidate(pb.SemanticCacheInvalidateRequest(
            cache_name=cache_name, pattern=pattern)).invalidated_count

    def stats(self, cache_name):
        return self.stub.GetStats(pb.SemanticCacheStatsRequest(cache_name=cache_name))

    def delete_entry(self, cache_name, key):
        return self.ext.DeleteEntry(xpb.DeleteCacheEntryRequest(
            cache_name=cache_name, key=key)).deleted

    def clear(self, cache_name):
        return self.ext.ClearCache(xpb.ClearCacheRequest(cache_name=cache_name)).cleared

    def list(self):
        return {c.cache_name: c for c in self.ext.ListCaches(xpb.ListCachesRequest()).caches}

    def configure(self, cache_name, max_entries):
        return self.ext.ConfigureCache(xpb.ConfigureCacheRequest(
            cache_name=cache_name, max_entries=max_entries)).cache

    def close(self):
        self.channel.close()


def at_angle(degrees, dim=8):
    """A unit vector at `degrees` from e0 in the (e0, e1) plane: cos = similarity to e0."""
    v = [0.0] * dim
    v[0] = math.cos(math.radians(degrees))
    v[1] = math.sin(math.radians(degrees))
    return v


def axis(i, dim=8):
    v = [0.0] * dim
    v[i] = 1.0
    return v
