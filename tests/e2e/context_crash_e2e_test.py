"""kill -9 with WriteEpisode calls in flight (--sync full), then a restart on the same data
directory: every acknowledged episode is there with its text, found by each retrieval lane
(BM25 by its unique word, trigrams, the vector lane by its embedding), ids stay unique and are
not reused by the next write; the same after a clean SIGTERM.
"""

import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from context_e2e import SEARCH, ContextClient, section  # noqa: E402

DIM = 8


def embedding(i):
    v = [0.0] * DIM
    v[i % DIM] = 1.0
    v[(i * 3 + 1) % DIM] += 0.5 + (i % 7) / 10.0
    return v


class Crash(unittest.TestCase):
    def writers(self, address, ns, stop, acked, threads=4):
        def run(t):
            client = ContextClient(address)
            i = 0
            while not stop.is_set():
                n = t * 1_000_000 + i
                try:
                    eid = client.write(ns, "episode uniq%d about topic%d" % (n, n % 5),
                                       embedding=embedding(n))
                    acked.append((eid, n))
                except grpc.RpcError:
                    return
                i += 1
        workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        return workers

    def check(self, address, ns, acked):
        client = ContextClient(address)
        ids = [eid for eid, _ in acked]
        self.assertEqual(len(ids), len(set(ids)))
        stored = {e.episode_id: e.text for e in client.list_episodes(ns, limit=1000)}
        for eid, n in acked:
            self.assertEqual(stored.get(eid), "episode uniq%d about topic%d" % (n, n % 5), eid)
        for eid, n in acked[:: max(1, len(acked) // 20)]:
            for lanes in ("bm25", "trigram"):
                r = client.query(ns, [section("s", SEARCH, "uniq%d" % n, lanes=lanes, top_k=1)],
                                 format="json")
                self.assertIn("uniq%d" % n, r.section_results[0].content, lanes)
        eid, n = acked[len(acked) // 2]
        r = client.query(ns, [section("s", SEARCH, "", embedding=embedding(n), lanes="vector",
                                      top_k=50)], format="text")
        self.assertIn("topic%d" % (n % 5), r.context)
        fresh = client.write(ns, "after the restart")
        self.assertGreater(fresh, max(stored))
        client.close()

    def test_kill9_with_writes_in_flight(self):
        work = os.path.join(WORK, "kill9")
        os.makedirs(work, exist_ok=True)
        server = sochdb_e2e.Server(work, ["--sync", "full"]).start()
        stop, acked = threading.Event(), []
        workers = self.writers(server.address(), "crash", stop, acked)
        deadline = time.time() + 30
        while len(acked) < 300 and time.time() < deadline:
            time.sleep(0.05)
        server.stop(signal.SIGKILL)
        stop.set()
        for w in workers:
            w.join()
        self.assertGreater(len(acked), 50)
        server = sochdb_e2e.Server(work, ["--sync", "full"]).start()
        try:
            self.check(server.address(), "crash", list(acked))
        finally:
            server.stop()

    def test_clean_restart(self):
        work = os.path.join(WORK, "term")
        os.makedirs(work, exist_ok=True)
        server = sochdb_e2e.Server(work, ["--sync", "normal"]).start()
        client = ContextClient(server.address())
        acked = [(client.write("term", "episode uniq%d about topic%d" % (n, n % 5),
                               embedding=embedding(n)), n) for n in range(100)]
        client.close()
        self.assertEqual(server.stop(), 0)
        server = sochdb_e2e.Server(work).start()
        try:
            self.check(server.address(), "term", acked)
        finally:
            server.stop()


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
