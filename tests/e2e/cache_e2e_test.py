"""SemanticCacheService and SemanticCacheExtensionService through the real server: the SDK's
cache_get / cache_put call shapes; exact-match, semantic hits, misses and the threshold (its
default 0.85); TTL expiry and the purge (entry_count excludes expired entries); Invalidate
globs; GetStats (size_bytes, field 100); LRU eviction under ConfigureCache; DeleteEntry,
ClearCache, ListCaches; bad input naming the field and limit; and entries and hit/miss counts
surviving SIGTERM and kill -9.
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
from cache_e2e import CacheClient, at_angle, axis  # noqa: E402


class CacheCase(unittest.TestCase):
    def assertRefused(self, code, pattern, fn, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as caught:
            fn(*args, **kwargs)
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        self.assertRegex(caught.exception.details(), pattern)


class Semantics(CacheCase):
    @classmethod
    def setUpClass(cls):
        work = os.path.join(WORK, "semantics")
        os.makedirs(work)
        cls.server = sochdb_e2e.Server(work).start()
        cls.c = CacheClient(cls.server.address())

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.server.stop()

    def test_sdk_calls_hits_misses_threshold(self):
        c = self.c
        self.assertTrue(c.cache_put("llm", "capital of France?", "Paris", at_angle(0)))
        self.assertTrue(c.cache_put("llm", "tallest mountain?", "Everest", at_angle(90)))
        self.assertEqual(c.cache_get("llm", at_angle(20)), "Paris")       # cos 0.94
        self.assertIsNone(c.cache_get("llm", at_angle(40)))               # cos 0.77 < 0.85
        self.assertEqual(c.cache_get("llm", at_angle(40), threshold=0.7), "Paris")
        self.assertIsNone(c.cache_get("llm", at_angle(40), threshold=0))  # 0 means 0.85
        self.assertEqual(c.cache_get("llm", at_angle(80)), "Everest")
        r = c.get("llm", at_angle(10))
        self.assertTrue(r.hit)
        self.assertEqual(r.matched_key, "capital of France?")
        self.assertAlmostEqual(r.similarity_score, 0.9848, places=3)
        miss = c.get("llm", at_angle(45))
        self.assertEqual((miss.hit, miss.cached_value, miss.matched_key, miss.similarity_score),
                         (False, "", "", 0.0))
        # The query text (which the SDK never sends) is an exact match before any search.
        exact = c.get("llm", at_angle(45), query="tallest mountain?")
        self.assertEqual((exact.hit, exact.cached_value, exact.similarity_score),
                         (True, "Everest", 1.0))
        self.assertTrue(c.get("llm", query="capital of France?").hit)  # no embedding needed
        self.assertFalse(c.get("llm").hit)  # nothing to look up by: a miss
        # Upsert by key.
        self.assertTrue(c.cache_put("llm", "capital of France?", "Paris, France", at_angle(0)))
        self.assertEqual(c.cache_get("llm", at_angle(0)), "Paris, France")
        s = c.stats("llm")
        self.assertEqual((s.hits, s.misses, s.entry_count), (7, 4, 2))
        self.assertAlmostEqual(s.hit_rate, 7 / 11, places=5)
        self.assertEqual(s.size_bytes, (18 + 13 + 32) + (17 + 7 + 32))
        unused = c.stats("never-used")  # as upstream: zeros, not an error
        self.assertEqual((unused.hits, unused.misses, unused.entry_count), (0, 0, 0))

    def test_a_get_never_creates_a_cache_and_thresholds_above_1_are_refused(self):
        c = self.c
        for _ in range(3):
            self.assertFalse(c.get("looked-up-only", axis(0), query="q").hit)
        self.assertNotIn("looked-up-only", c.list())
        s = c.stats("looked-up-only")  # zeros: the misses are counted nowhere
        self.assertEqual((s.hits, s.misses, s.entry_count), (0, 0, 0))
        self.assertTrue(c.cache_put("strict", "k", "v", axis(0)))
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                           r"^similarity_threshold is 1\.5; it must be at most 1 ",
                           c.get, "strict", axis(0), 1.5)
        self.assertTrue(c.get("strict", axis(0), 1.0).hit)

    def test_ttl_expiry_and_purge(self):
        c = self.c
        self.assertTrue(c.cache_put("ttl", "short", "s", axis(0), ttl_seconds=1))
        self.assertTrue(c.cache_put("ttl", "long", "l", axis(1), ttl_seconds=3600))
        self.assertEqual(c.cache_get("ttl", axis(0)), "s")
        self.assertEqual(c.stats("ttl").entry_count, 2)
        time.sleep(1.1)
        self.assertIsNone(c.cache_get("ttl", axis(0)))
        self.assertFalse(c.get("ttl", query="short").hit)
        self.assertEqual(c.stats("ttl").entry_count, 1)
        self.assertEqual(c.cache_get("ttl", axis(1)), "l")
        # The purge removes it (a Delete finds nothing to delete afterwards).
        time.sleep(1.5)
        self.assertFalse(c.delete_entry("ttl", "short"))

    def test_invalidate_globs(self):
        c = self.c
        for i, key in enumerate(["user:1:profile", "user:2:profile", "user:10:profile",
                                 "doc.1", "docx1"]):
            self.assertTrue(c.cache_put("inv", key, "v%d" % i, axis(i)))
        self.assertEqual(c.invalidate("inv", "user:?:profile"), 2)
        self.assertEqual(c.invalidate("inv", "doc.*"), 1)  # '.' is a literal dot
        self.assertTrue(c.get("inv", query="docx1").hit)
        self.assertTrue(c.get("inv", query="user:10:profile").hit)
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, "^pattern", c.invalidate, "inv",
                           "[a-")
        self.assertEqual(c.invalidate("inv", ""), 2)  # every entry
        self.assertEqual(c.stats("inv").entry_count, 0)
        self.assertEqual(c.invalidate("absent", ""), 0)

    def test_lru_eviction_and_extensions(self):
        c = self.c
        info = c.configure("lru", 3)
        self.assertEqual(info.max_entries, 3)
        for i, key in enumerate("abc"):
            self.assertTrue(c.cache_put("lru", key, key.upper(), axis(i)))
        self.assertEqual(c.cache_get("lru", axis(0)), "A")  # a is recent again: b is the LRU
        self.assertTrue(c.cache_put("lru", "d", "D", axis(3)))
        self.assertIsNone(c.cache_get("lru", axis(1)))
        self.assertEqual(c.cache_get("lru", axis(0)), "A")
        self.assertEqual(c.stats("lru").entry_count, 3)
        self.assertEqual(c.configure("lru", 1).entry_count, 1)
        listed = c.list()
        self.assertIn("lru", listed)
        self.assertEqual((listed["lru"].max_entries, listed["lru"].dimension), (1, 8))
        self.assertTrue(c.delete_entry("lru", "a"))
        self.assertFalse(c.delete_entry("lru", "a"))
        self.assertTrue(c.clear("lru"))
        self.assertFalse(c.clear("lru"))
        self.assertNotIn("lru", c.list())
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                           "^max_entries is 1000001; the limit is 1000000$",
                           c.configure, "lru", 1_000_001)

    def test_bad_input_names_the_field_and_limit(self):
        c = self.c
        self.assertTrue(c.cache_put("dims", "k", "v", axis(0, dim=4)))
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                           r"^key_embedding has 8 floats; cache 'dims' has dimension 4",
                           c.cache_put, "dims", "k2", "v", axis(0, dim=8))
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                           r"^query_embedding has 8 floats; cache 'dims' has dimension 4",
                           c.cache_get, "dims", axis(0, dim=8))
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, r"^key_embedding\[1\] is NaN",
                           c.cache_put, "dims", "k", "v", [1.0, float("nan"), 0.0, 0.0])
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, r"^query_embedding\[0\]",
                           c.cache_get, "dims", [float("inf"), 0.0, 0.0, 0.0])
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, "^key_embedding is empty$",
                           c.cache_put, "dims", "k", "v", [])
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, "^key_embedding is all zeros",
                           c.cache_put, "dims", "k", "v", [0.0] * 4)
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, "^key must not be empty$",
                           c.cache_put, "dims", "", "v", axis(0, dim=4))
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT, "^cache_name must not be empty$",
                           c.cache_put, "", "k", "v", axis(0, dim=4))
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                           "^key is 8193 bytes; the limit is 8192 bytes$",
                           c.cache_put, "dims", "k" * 8193, "v", axis(0, dim=4))
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                           "^value is 1048577 bytes; the limit is 1048576 bytes$",
                           c.cache_put, "dims", "k", "v" * (1 << 20 | 1), axis(0, dim=4))
        self.assertRefused(grpc.StatusCode.INVALID_ARGUMENT,
                           "^key_embedding has 4097 floats; the limit is 4096$",
                           c.cache_put, "wide", "k", "v", [1.0] * 4097)
        self.assertEqual(c.stats("dims").entry_count, 1)


class Restart(CacheCase):
    def fill(self, c):
        for i in range(50):
            self.assertTrue(c.cache_put("persist", "q%d" % i, "a%d" % i, at_angle(i * 1.7, 64)))
        self.assertTrue(c.cache_put("persist", "expiring", "x", axis(5, 64), ttl_seconds=3600))
        c.configure("persist", 1000)
        for i in range(0, 50, 5):
            self.assertEqual(c.cache_get("persist", at_angle(i * 1.7, 64), 0.9999), "a%d" % i)
        self.assertIsNone(c.cache_get("persist", axis(7, 64)))

    def check(self, c, hits, misses):
        for i in range(50):
            self.assertEqual(c.get("persist", query="q%d" % i).cached_value, "a%d" % i)
            self.assertEqual(c.cache_get("persist", at_angle(i * 1.7, 64), 0.9999), "a%d" % i)
        s = c.stats("persist")
        self.assertEqual(s.entry_count, 51)
        self.assertGreaterEqual(s.hits, hits)
        self.assertGreaterEqual(s.misses, misses)
        self.assertEqual(c.list()["persist"].max_entries, 1000)

    def run_with(self, sig, sync):
        work = os.path.join(WORK, "restart-%d-%s" % (sig, sync))
        os.makedirs(work)
        server = sochdb_e2e.Server(work, ["--sync", sync]).start()
        c = CacheClient(server.address())
        self.fill(c)
        # Counts are written every second (and at a graceful stop): wait one round before a
        # kill -9, which loses at most the last second's counts.
        time.sleep(1.5)
        c.close()
        server.stop(sig)
        server.start()
        c = CacheClient(server.address())
        try:
            self.check(c, hits=10, misses=1)
        finally:
            c.close()
            server.stop()
        print("restart after signal %d, --sync %s: 51 entries and counts kept" % (sig, sync),
              file=sys.stderr)

    def test_sigterm(self):
        self.run_with(signal.SIGTERM, "normal")

    def test_kill_9_sync_full(self):
        self.run_with(signal.SIGKILL, "full")

    def test_kill_9_sync_normal(self):
        self.run_with(signal.SIGKILL, "normal")

    def test_kill_9_right_after_puts_keeps_every_acknowledged_entry(self):
        work = os.path.join(WORK, "kill-now")
        os.makedirs(work)
        server = sochdb_e2e.Server(work, ["--sync", "normal"]).start()
        c = CacheClient(server.address())
        for i in range(200):
            self.assertTrue(c.cache_put("now", "k%d" % i, "v%d" % i, at_angle(i * 0.4, 16)))
        c.close()
        server.stop(signal.SIGKILL)
        server.start()
        c = CacheClient(server.address())
        try:
            self.assertEqual(c.stats("now").entry_count, 200)
            for i in range(0, 200, 7):
                self.assertEqual(c.cache_get("now", at_angle(i * 0.4, 16), 0.99999), "v%d" % i)
        finally:
            c.close()
            server.stop()


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sochdb_e2e.cleanup(WORK)
    sys.exit(0 if result.wasSuccessful() else 1)
