"""Helpers of the context end-to-end tests: a client whose SDK half sends exactly what the SochDB
Python SDK's SochDBClient sends for query_context, write_episode, estimate_tokens and
format_context (sochdb/grpc_client.py, ../shared/UPSTREAM.md section 5), and whose other half
reaches our extensions (ContextExtensionService, literal sections, truncation strategies).
Import after sochdb_e2e.generate_stubs.
"""

import json

from sochdb.v1 import context_extension_pb2 as xpb
from sochdb.v1 import context_extension_pb2_grpc as xpb_grpc
from sochdb.v1 import context_pb2 as cpb
from sochdb.v1 import context_pb2_grpc as cpb_grpc

import sochdb_e2e

FORMATS = {"toon": 0, "json": 1, "markdown": 2, "text": 3}
GET, LAST, SEARCH, SELECT = 0, 1, 2, 3
TAIL_DROP, HEAD_DROP, PROPORTIONAL, STRICT = 0, 1, 2, 3


class ContextClient:
    """The SDK's context calls (same requests, same defaults, same answers) plus ours, over a
    channel carrying `key`."""

    def __init__(self, address, key=None, options=None):
        self.raw_channel, channel = sochdb_e2e.keyed_channel(address, key, options)
        self.context = cpb_grpc.ContextServiceStub(channel)
        self.ext = xpb_grpc.ContextExtensionServiceStub(channel)

    def close(self):
        self.raw_channel.close()

    # The SDK's calls.

    def query_context(self, session_id, sections, token_limit=2048, format="toon",
                      include_schema=False):
        proto_sections = [cpb.ContextSection(
            name=s["name"], priority=int(s.get("priority", 0)), section_type=int(s["type"]),
            query=s.get("query", ""),
            options={str(k): str(v) for k, v in s.get("options", {}).items()})
            for s in sections]
        r = self.context.Query(cpb.ContextQueryRequest(
            session_id=session_id, token_limit=token_limit, sections=proto_sections,
            format=FORMATS.get(format, 0), include_schema=include_schema))
        return r.context, r.total_tokens, list(r.section_results), r.error

    def write_episode(self, namespace, text, *, t_valid_from=None, metadata=None):
        kwargs = dict(namespace=namespace, text=text,
                      metadata_json=json.dumps(metadata) if metadata else "")
        if t_valid_from is not None:
            kwargs["t_valid_from"] = t_valid_from
        return self.context.WriteEpisode(cpb.WriteEpisodeRequest(**kwargs))

    def estimate_tokens(self, content, model=""):
        return self.context.EstimateTokens(
            cpb.EstimateTokensRequest(content=content, model=model)).token_count

    def format_context(self, content, format="toon"):
        return self.context.FormatContext(cpb.FormatContextRequest(
            content=content, format=FORMATS.get(format, 0))).formatted

    # Ours.

    def query(self, session_id, sections, token_limit=2048, format="toon", truncation=TAIL_DROP,
              model=""):
        """sections: ContextSection messages (see section() and literal())."""
        return self.context.Query(cpb.ContextQueryRequest(
            session_id=session_id, token_limit=token_limit, sections=sections,
            format=FORMATS[format], truncation=truncation, model=model))

    def write(self, namespace, text, t_valid_from=None, embedding=None, metadata_json=""):
        kwargs = dict(namespace=namespace, text=text, metadata_json=metadata_json,
                      embedding=embedding or [])
        if t_valid_from is not None:
            kwargs["t_valid_from"] = t_valid_from
        r = self.context.WriteEpisode(cpb.WriteEpisodeRequest(**kwargs))
        assert not r.error, r.error
        return r.episode_id

    def get_episode(self, namespace, episode_id):
        r = self.ext.GetEpisode(xpb.GetEpisodeRequest(namespace=namespace, episode_id=episode_id))
        return r.episode if r.found else None

    def list_episodes(self, namespace, limit=0):
        episodes, after = [], 0
        while True:
            r = self.ext.ListEpisodes(xpb.ListEpisodesRequest(
                namespace=namespace, after_id=after, limit=limit, without_embeddings=True))
            episodes.extend(r.episodes)
            if r.next_after_id == 0:
                return episodes
            after = r.next_after_id

    def delete_episode(self, namespace, episode_id):
        return self.ext.DeleteEpisode(
            xpb.DeleteEpisodeRequest(namespace=namespace, episode_id=episode_id))


def section(name, kind, query="", priority=0, embedding=None, **options):
    return cpb.ContextSection(name=name, priority=priority, section_type=kind, query=query,
                              options={k: str(v) for k, v in options.items()},
                              query_embedding=embedding or [])


def literal(name, text, priority=0):
    return cpb.ContextSection(name=name, priority=priority, literal=text)
