"""Shared harness for the Python end-to-end tests.

Generates Python stubs from the project's .proto files with protoc (as a user of the server
would), starts the real sochdb-grpc binary on a free port with a temporary data directory, and
offers a small client that sends exactly what the SochDB Python SDK (SochDBClient) sends, and
channels that carry an API key (with key_entry writing the --auth-keys file's lines).
Runs under Debian's /usr/bin/python3 with python3-grpcio and python3-protobuf.
"""

import collections
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc

RUNFILES = os.environ.get("TEST_SRCDIR")
ROOT = os.path.join(RUNFILES, "sochdb_grpc") if RUNFILES else os.getcwd()
SERVER = os.path.join(ROOT, "server", "sochdb-grpc")


def generate_stubs(out_dir):
    """protoc --python_out + the gRPC plugin over proto/ and the health protocol.

    The health protocol is compiled as a top-level module (health_pb2): under its own path,
    grpc/health/v1, it would be hidden behind the installed grpc package.
    """
    os.makedirs(out_dir, exist_ok=True)
    health_dir = os.path.join(out_dir, "_health_src")
    os.makedirs(health_dir, exist_ok=True)
    shutil.copy(os.path.join(ROOT, "proto", "grpc", "health", "v1", "health.proto"),
                os.path.join(health_dir, "health.proto"))
    plugin = ["--python_out=" + out_dir, "--grpc_out=" + out_dir,
              "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin"]
    proto_root = os.path.join(ROOT, "proto")
    files = sorted(glob.glob(os.path.join(proto_root, "sochdb", "v1", "*.proto")))
    subprocess.run(["/usr/bin/protoc", "-I" + proto_root] + plugin + files, check=True)
    subprocess.run(["/usr/bin/protoc", "-I" + health_dir] + plugin +
                   [os.path.join(health_dir, "health.proto")], check=True)
    sys.path.insert(0, out_dir)


class Server:
    """The sochdb-grpc binary on a free loopback port."""

    def __init__(self, work_dir, extra_args=(), data_dir=None, env=None):
        self.work_dir = work_dir
        self.data_dir = data_dir or os.path.join(work_dir, "data")
        self.extra_args = list(extra_args)
        self.env = env  # None: this process's environment
        self.process = None
        self.port = None
        self.log_path = os.path.join(work_dir, "server.log")

    def start(self, timeout=30):
        port_file = os.path.join(self.work_dir, "port")
        if os.path.exists(port_file):
            os.remove(port_file)
        args = [SERVER, "--port", "0", "--port-file", port_file, "--data-dir", self.data_dir,
                "--metrics-port", "0"] + self.extra_args
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=log, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return self
            if self.process.poll() is not None:
                raise RuntimeError("server exited: " + self.log())
            time.sleep(0.02)
        raise RuntimeError("server did not start: " + self.log())

    def address(self):
        return "127.0.0.1:%d" % self.port

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class KvClient:
    """The KV half of SochDBClient (sochdb/grpc_client.py): same requests, same answers."""

    def __init__(self, address):
        from sochdb.v1 import kv_pb2, kv_pb2_grpc
        self.pb = kv_pb2
        self.channel = grpc.insecure_channel(address)
        self.stub = kv_pb2_grpc.KvServiceStub(self.channel)

    def get(self, key, namespace="default"):
        r = self.stub.Get(self.pb.KvGetRequest(namespace=namespace, key=key))
        return r.value if r.found else None

    def put(self, key, value, namespace="default", ttl_seconds=0):
        r = self.stub.Put(self.pb.KvPutRequest(namespace=namespace, key=key, value=value,
                                               ttl_seconds=ttl_seconds))
        return r.success

    def delete(self, key, namespace="default"):
        return self.stub.Delete(self.pb.KvDeleteRequest(namespace=namespace, key=key)).success

    def scan(self, prefix=b"", namespace="default", limit=0):
        return [(r.key, r.value) for r in self.stub.Scan(
            self.pb.KvScanRequest(namespace=namespace, prefix=prefix, limit=limit))]

    def close(self):
        self.channel.close()


class _CallDetails(collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                         "compression")), grpc.ClientCallDetails):
    pass


class _FixedHeaders(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                    grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds the same request headers to every call of a channel, after the call's own."""

    def __init__(self, headers):
        self.headers = list(headers)

    def _details(self, details):
        return _CallDetails(details.method, details.timeout,
                            list(details.metadata or []) + self.headers, details.credentials,
                            details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    intercept_unary_stream = intercept_unary_unary
    intercept_stream_unary = intercept_unary_unary
    intercept_stream_stream = intercept_unary_unary


def keyed_channel(address, key=None, options=None):
    """(channel, channel that sends `authorization: Bearer <key>` on every call); without a key
    both are the plain channel. Close the first. `options`: grpcio channel options."""
    channel = grpc.insecure_channel(address, options=options)
    if not key:
        return channel, channel
    return channel, grpc.intercept_channel(
        channel, _FixedHeaders([("authorization", "Bearer " + key)]))


def key_entry(key, tenant, role, label):
    """One line of an --auth-keys file (engine/auth/auth.h): the key's SHA-256, never the key."""
    return "sha256:%s tenant=%s role=%s id=%s\n" % (
        hashlib.sha256(key.encode()).hexdigest(), tenant, role, label)


def keyed_server(work_dir, keys, extra_args=()):
    """A started Server with --auth-keys naming a file of `keys`: (key, tenant, role, label)
    tuples, as key_entry takes them."""
    os.makedirs(work_dir, exist_ok=True)
    key_file = os.path.join(work_dir, "keys")
    with open(key_file, "w") as f:
        f.write("".join(key_entry(*entry) for entry in keys))
    return Server(work_dir, ["--auth-keys", key_file] + list(extra_args)).start()


def temp_dir():
    base = os.environ.get("TEST_TMPDIR") or tempfile.gettempdir()
    return tempfile.mkdtemp(dir=base)


def cleanup(path):
    shutil.rmtree(path, ignore_errors=True)
