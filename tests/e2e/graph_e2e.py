"""Helpers of the graph end-to-end tests: a client whose SDK half sends exactly what the SochDB
Python SDK's SochDBClient sends (sochdb/grpc_client.py, ../shared/UPSTREAM.md section 5) and whose
other half reaches the rest of GraphService and GraphExtensionService, plus edge-set helpers.
Import after sochdb_e2e.generate_stubs.
"""

import collections
import unittest

import grpc
from sochdb.v1 import graph_extension_pb2 as xpb
from sochdb.v1 import graph_extension_pb2_grpc as xpb_grpc
from sochdb.v1 import graph_pb2 as gpb
from sochdb.v1 import graph_pb2_grpc as gpb_grpc

import sochdb_e2e

OUT = gpb.EDGE_DIRECTION_OUTGOING
IN = gpb.EDGE_DIRECTION_INCOMING
BOTH = gpb.EDGE_DIRECTION_BOTH

# The SDK's own dataclasses, as tuples (grpc_client.py GraphNode / GraphEdge / TemporalEdge).
SdkNode = collections.namedtuple("SdkNode", "id node_type properties")
SdkEdge = collections.namedtuple("SdkEdge", "from_id edge_type to_id properties")
SdkTemporalEdge = collections.namedtuple(
    "SdkTemporalEdge", "from_id edge_type to_id valid_from valid_until properties")

# Answers of a few MiB (a 10k-edge page) need more than grpcio's 4 MiB default.
BIG_MESSAGES = [("grpc.max_receive_message_length", 64 << 20),
                ("grpc.max_send_message_length", 64 << 20)]


class GraphClient:
    """add_node, add_edge, traverse, add_temporal_edge and query_temporal_graph as SochDBClient
    sends them (same requests, same defaults, same answers), over a channel carrying `key`."""

    def __init__(self, address, key=None, options=None):
        self.raw_channel, channel = sochdb_e2e.keyed_channel(address, key, options)
        self.graph = gpb_grpc.GraphServiceStub(channel)
        self.ext = xpb_grpc.GraphExtensionServiceStub(channel)

    def close(self):
        self.raw_channel.close()

    # The SDK's calls.

    def add_node(self, node_id, node_type, properties=None, namespace="default"):
        return self.graph.AddNode(gpb.AddNodeRequest(
            namespace=namespace,
            node=gpb.GraphNode(id=node_id, node_type=node_type,
                               properties=properties or {}))).success

    def add_edge(self, from_id, edge_type, to_id, properties=None, namespace="default"):
        return self.graph.AddEdge(gpb.AddEdgeRequest(
            namespace=namespace,
            edge=gpb.GraphEdge(from_id=from_id, edge_type=edge_type, to_id=to_id,
                               properties=properties or {}))).success

    def traverse(self, start_node, max_depth=10, order="bfs", namespace="default"):
        r = self.graph.Traverse(gpb.TraverseRequest(
            namespace=namespace, start_node_id=start_node, order=0 if order == "bfs" else 1,
            max_depth=max_depth))
        nodes = [SdkNode(n.id, n.node_type, dict(n.properties)) for n in r.nodes]
        edges = [SdkEdge(e.from_id, e.edge_type, e.to_id, dict(e.properties)) for e in r.edges]
        return nodes, edges

    def add_temporal_edge(self, namespace, from_id, edge_type, to_id, valid_from, valid_until=0,
                          properties=None):
        return self.graph.AddTemporalEdge(gpb.AddTemporalEdgeRequest(
            namespace=namespace, from_id=from_id, edge_type=edge_type, to_id=to_id,
            valid_from=valid_from, valid_until=valid_until,
            properties=properties or {})).success

    def query_temporal_graph(self, namespace, node_id, mode="CURRENT", timestamp=None,
                             start_time=None, end_time=None, edge_types=None):
        """The SDK's request with the enum names that exist (the SDK spells them
        TemporalQueryMode.POINT_IN_TIME and fails client-side before sending anything)."""
        modes = {"POINT_IN_TIME": gpb.TEMPORAL_QUERY_MODE_POINT_IN_TIME,
                 "RANGE": gpb.TEMPORAL_QUERY_MODE_RANGE,
                 "CURRENT": gpb.TEMPORAL_QUERY_MODE_CURRENT}
        r = self.graph.QueryTemporalGraph(gpb.QueryTemporalGraphRequest(
            namespace=namespace, node_id=node_id,
            mode=modes.get(mode, gpb.TEMPORAL_QUERY_MODE_CURRENT), timestamp=timestamp or 0,
            start_time=start_time or 0, end_time=end_time or 0, edge_types=edge_types or []))
        return [SdkTemporalEdge(e.from_id, e.edge_type, e.to_id, e.valid_from, e.valid_until,
                                dict(e.properties)) for e in r.edges]

    # The rest of the protocol, answers as they come.

    def get_node(self, ns, node_id):
        return self.graph.GetNode(gpb.GetNodeRequest(namespace=ns, node_id=node_id))

    def delete_node(self, ns, node_id):
        return self.graph.DeleteNode(gpb.DeleteNodeRequest(namespace=ns, node_id=node_id))

    def get_edges(self, ns, node_id, direction=OUT, edge_type="", limit=0, page_token="",
                  **call):
        return self.graph.GetEdges(gpb.GetEdgesRequest(
            namespace=ns, node_id=node_id, edge_type=edge_type, direction=direction, limit=limit,
            page_token=page_token), **call)

    def all_edges(self, ns, node_id, direction=OUT, limit=0):
        """Every edge GetEdges lists for the node, page after page, as (from, type, to)."""
        found, token = [], ""
        while True:
            r = self.get_edges(ns, node_id, direction, limit=limit, page_token=token)
            found.extend(triple(e) for e in r.edges)
            token = r.next_page_token
            if not token:
                return found

    def delete_edge(self, ns, from_id, edge_type, to_id):
        return self.graph.DeleteEdge(gpb.DeleteEdgeRequest(
            namespace=ns, from_id=from_id, edge_type=edge_type, to_id=to_id))

    def traverse_request(self, ns, start, **fields):
        return self.graph.Traverse(gpb.TraverseRequest(namespace=ns, start_node_id=start,
                                                       **fields))

    def shortest_path(self, ns, from_id, to_id, max_depth=10, **fields):
        return self.graph.ShortestPath(gpb.ShortestPathRequest(
            namespace=ns, from_id=from_id, to_id=to_id, max_depth=max_depth, **fields))

    def neighbors(self, ns, node_id, direction=OUT, **fields):
        return self.graph.GetNeighbors(gpb.GetNeighborsRequest(
            namespace=ns, node_id=node_id, direction=direction, **fields))

    def get_edge(self, ns, from_id, edge_type, to_id):
        return self.ext.GetEdge(xpb.GetEdgeRequest(namespace=ns, from_id=from_id,
                                                   edge_type=edge_type, to_id=to_id))

    def end_temporal_edge(self, ns, from_id, edge_type, to_id, end_time=0):
        return self.ext.EndTemporalEdge(xpb.EndTemporalEdgeRequest(
            namespace=ns, from_id=from_id, edge_type=edge_type, to_id=to_id, end_time=end_time))

    def add_nodes(self, ns, nodes):
        return self.ext.AddNodes(xpb.AddNodesRequest(namespace=ns, nodes=nodes)).added_count

    def add_edges(self, ns, edges, **call):
        return self.ext.AddEdges(xpb.AddEdgesRequest(namespace=ns, edges=edges),
                                 **call).added_count


def edge(from_id, edge_type, to_id, **properties):
    return gpb.GraphEdge(from_id=from_id, edge_type=edge_type, to_id=to_id,
                         properties=properties)


def node(node_id, node_type="", **properties):
    return gpb.GraphNode(id=node_id, node_type=node_type, properties=properties)


def triple(e):
    return (e.from_id, e.edge_type, e.to_id)


class GraphCase(unittest.TestCase):
    """Assertions shared by the graph tests."""

    def assertRefused(self, code, pattern, call, *args, **kwargs):
        """`call` fails with `code` and details matching the regex `pattern`."""
        with self.assertRaises(grpc.RpcError, msg="not refused: %r" % (args,)) as caught:
            call(*args, **kwargs)
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        self.assertRegex(caught.exception.details(), pattern)
        return caught.exception

    def assertInvalid(self, pattern, call, *args, **kwargs):
        return self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, pattern, call, *args,
                                  **kwargs)
