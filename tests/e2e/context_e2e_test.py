"""ContextService and ContextExtensionService through the real server: the SDK's call shapes
(write_episode, query_context, estimate_tokens, format_context) with their answers; each section
kind doing real work (GET by episode id, by KV path and as ingest; LAST over episodes and over
a KV prefix; SEARCH over BM25, trigram and vector lanes; literal text; SELECT refused); as_of;
budgets that hold for every limit, format and truncation strategy with honest counts; every
section's content in every format; the TOON output decoding to the JSON output's value; and
bad input refused without a write.
"""

import json
import math
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sochdb_e2e  # noqa: E402

WORK = sochdb_e2e.temp_dir()
sochdb_e2e.generate_stubs(os.path.join(WORK, "stubs"))

import grpc  # noqa: E402
from context_e2e import (GET, HEAD_DROP, LAST, PROPORTIONAL, SEARCH, SELECT, STRICT,  # noqa: E402
                         TAIL_DROP, ContextClient, literal, section)
import toon_reference  # noqa: E402
from sochdb.v1 import context_pb2 as cpb  # noqa: E402

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
         "zulu").split()


def prose(n, seed=0):
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(n))


class ContextCase(unittest.TestCase):
    server = None
    client = None

    @classmethod
    def setUpClass(cls):
        work = os.path.join(WORK, cls.__name__)
        os.makedirs(work, exist_ok=True)
        cls.server = sochdb_e2e.Server(work, ["--sync", "off"]).start()
        cls.client = ContextClient(cls.server.address())
        cls.kv = sochdb_e2e.KvClient(cls.server.address())

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.kv.close()
        if cls.server.process.poll() is None:
            cls.server.stop()

    def assertStatus(self, code, fn, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as caught:
            fn(*args, **kwargs)
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        return caught.exception.details()


class SdkCalls(ContextCase):
    def test_write_episode_as_the_sdk_sends_it(self):
        c = self.client
        before = int(time.time() * 1000)
        first = c.write_episode("agent-42", "The user prefers dark mode.",
                                metadata={"source": "chat"})
        second = c.write_episode("agent-42", "The user lives in Lisbon.", t_valid_from=1000)
        after = int(time.time() * 1000)
        self.assertEqual(first.error, "")
        self.assertTrue(first.lexical_indexed)
        self.assertEqual(second.episode_id, first.episode_id + 1)
        self.assertTrue(before <= first.t_created <= after, first.t_created)
        stored = c.get_episode("agent-42", first.episode_id)
        self.assertTrue(before <= stored.t_valid_from <= after, stored.t_valid_from)
        self.assertEqual(json.loads(stored.metadata_json), {"source": "chat"})
        self.assertEqual(c.get_episode("agent-42", second.episode_id).t_valid_from, 1000)

    def test_write_episode_errors_are_in_the_error_field(self):
        c = self.client
        empty = c.write_episode("errs", "")
        self.assertEqual(empty.error, "text must not be empty")
        self.assertEqual(empty.episode_id, 0)
        bad = c.context.WriteEpisode(cpb.WriteEpisodeRequest(namespace="errs", text="x",
                                                             metadata_json="{nope"))
        self.assertTrue(bad.error.startswith("invalid metadata_json: "), bad.error)
        self.assertEqual(c.list_episodes("errs"), [])

    def test_query_context_as_the_sdk_sends_it(self):
        c = self.client
        ns = "sdk-shape"
        ids = [c.write_episode(ns, t).episode_id for t in (
            "Paris is the capital of France.", "The Seine flows through Paris.",
            "Berlin is the capital of Germany.")]
        context, total, results, error = c.query_context(ns, [
            {"name": "recent", "priority": 1, "type": LAST, "options": {"top_k": 2}},
            {"name": "facts", "priority": 2, "type": SEARCH, "query": "capital of France"},
            {"name": "one", "priority": 3, "type": GET, "options": {"doc_id": ids[2]}},
        ], token_limit=2048, format="json")
        self.assertEqual(error, "")
        doc = json.loads(context)
        names = [s["name"] for s in doc["sections"]]
        self.assertEqual(names, ["recent", "facts", "one"])
        recent = [e["text"] for e in doc["sections"][0]["episodes"]]
        self.assertEqual(recent, ["The Seine flows through Paris.",
                                  "Berlin is the capital of Germany."])
        self.assertEqual(doc["sections"][1]["episodes"][0]["text"],
                         "Paris is the capital of France.")
        self.assertEqual(doc["sections"][2]["episodes"][0]["id"], ids[2])
        self.assertEqual(total, c.estimate_tokens(context))
        self.assertEqual([r.name for r in results], names)
        for r in results:
            self.assertEqual(r.tokens_used, c.estimate_tokens(r.content))
            self.assertFalse(r.truncated)

    def test_estimate_tokens_counts_with_the_models_bpe(self):
        c = self.client
        self.assertEqual(c.estimate_tokens("hello world"), 2)
        self.assertEqual(c.estimate_tokens("hello world", "gpt-4"), 2)
        self.assertEqual(c.estimate_tokens(""), 0)
        text = "日本語のテキストとemoji 👩‍👩‍👧 " * 20
        self.assertNotEqual(c.estimate_tokens(text, "gpt-4"), c.estimate_tokens(text, "gpt-4o"))

    def test_format_context_forms(self):
        c = self.client
        value = {"users": [{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob, Jr."}],
                 "note": "a: b"}
        toon = c.format_context(json.dumps(value), "toon")
        self.assertIn("users[2]{id,name}:", toon)
        decoded, reason = toon_reference.decode_toon(toon)
        if decoded is None:
            self.skipTest(reason)
        self.assertEqual(decoded, value)
        self.assertEqual(json.loads(c.format_context("plain text", "json")),
                         {"content": "plain text"})
        self.assertEqual(c.format_context("x", "markdown"), "```\nx\n```")
        self.assertEqual(c.format_context("x", "text"), "x")


class Sections(ContextCase):
    def test_get_by_kv_path_and_ingest(self):
        c = self.client
        self.assertTrue(self.kv.put(b"profile", b"name: Ada; likes: tea", namespace="users"))
        r = c.query("s1", [section("profile", GET, "users/profile"),
                           section("missing", GET, "users/nothing"),
                           section("ingest", GET, episode_text="remember the milk",
                                   namespace="ingested")], format="json")
        doc = json.loads(r.context)
        self.assertEqual(doc["sections"][0]["value"], "name: Ada; likes: tea")
        self.assertNotIn("value", doc["sections"][1])
        new_id = doc["sections"][2]["episode_id"]
        self.assertEqual(c.get_episode("ingested", new_id).text, "remember the milk")

    def test_last_over_a_kv_prefix(self):
        c = self.client
        for i in range(30):
            self.kv.put(b"chat/%03d" % i, b"message %d" % i, namespace="kvlast")
        r = c.query("kvlast", [section("chat", LAST, prefix="chat/", top_k=3)], format="json")
        entries = json.loads(r.context)["sections"][0]["entries"]
        self.assertEqual([e["key"] for e in entries], ["chat/027", "chat/028", "chat/029"])
        self.assertEqual(entries[-1]["value"], "message 29")

    def test_literal_and_select(self):
        c = self.client
        r = c.query("lit", [literal("SYSTEM", "You are a helpful assistant.")], format="text")
        self.assertEqual(r.context, "SYSTEM\n\nYou are a helpful assistant.")
        details = self.assertStatus(grpc.StatusCode.UNIMPLEMENTED, c.query, "lit",
                                    [section("sql", SELECT, "SELECT 1")])
        self.assertIn("sections[0]", details)

    def test_search_lanes_and_as_of(self):
        c = self.client
        ns = "search-ns"
        old = c.write(ns, "The deploy failed because the disk was full.", t_valid_from=1000)
        new = c.write(ns, "The deploy succeeded after cleaning the disk.", t_valid_from=5000)
        c.write(ns, "Lunch is at noon.", t_valid_from=3000)

        def found(query="deploy disk", **options):
            r = c.query(ns, [section("s", SEARCH, query, **options)], format="json")
            return [e["id"] for e in json.loads(r.context)["sections"][0]["episodes"]]
        self.assertEqual(set(found()), {old, new})
        self.assertEqual(found(as_of=2000), [old])
        self.assertEqual(set(found(lanes="bm25")), {old, new})
        # Trigrams: an episode holding every trigram of the whole query ("the disk" is in both).
        self.assertEqual(set(found("the disk", lanes="trigram")), {old, new})
        self.assertEqual(found("the disk", lanes="trigram", as_of=1000), [old])
        self.assertEqual(found("deploy disk", lanes="trigram"), [])

    def test_vector_lane_and_dimension_errors(self):
        c = self.client
        ns = "vectors"
        a = c.write(ns, "apples and pears", embedding=[1.0, 0.0, 0.0])
        b = c.write(ns, "cars and trucks", embedding=[0.0, 1.0, 0.0])
        r = c.query(ns, [section("v", SEARCH, "", embedding=[0.1, 0.9, 0.0], lanes="vector",
                                 top_k=1)], format="json")
        self.assertEqual([e["id"] for e in json.loads(r.context)["sections"][0]["episodes"]],
                         [b])
        self.assertNotEqual(a, b)
        self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, c.write, ns, "x",
                          embedding=[1.0, 2.0])
        self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, c.write, ns, "x",
                          embedding=[float("nan"), 0.0, 0.0])
        self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, c.query, ns,
                          [section("v", SEARCH, "", embedding=[1.0], lanes="vector")])
        self.assertEqual(len(c.list_episodes(ns)), 2)

    def test_extension_calls(self):
        c = self.client
        ns = "ext"
        ids = [c.write(ns, "episode %d" % i) for i in range(250)]
        self.assertEqual([e.episode_id for e in c.list_episodes(ns, limit=100)], ids)
        self.assertTrue(c.delete_episode(ns, ids[3]).success)
        gone = c.delete_episode(ns, ids[3])
        self.assertFalse(gone.success)
        self.assertNotEqual(gone.error, "")
        self.assertIsNone(c.get_episode(ns, ids[3]))
        self.assertEqual(c.write(ns, "after delete"), ids[-1] + 1)  # ids are never reused


class Budgets(ContextCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.client
        for i in range(40):
            c.write("budget", "Episode %d: %s." % (i, prose(25, i)), t_valid_from=1000 + i)

    def sections(self):
        return [literal("SYSTEM", "You are terse. " + prose(60), priority=0),
                section("history", LAST, priority=1, top_k=20, namespace="budget"),
                section("facts", SEARCH, "alpha charlie", priority=2, namespace="budget")]

    def test_every_limit_format_and_strategy_holds(self):
        c = self.client
        for fmt in ("toon", "json", "markdown", "text"):
            for strategy in (TAIL_DROP, HEAD_DROP, PROPORTIONAL):
                for limit in (1, 2, 7, 33, 150, 600, 5000):
                    r = c.query("budget", self.sections(), limit, fmt, strategy)
                    where = "%s strategy %d limit %d" % (fmt, strategy, limit)
                    self.assertLessEqual(r.total_tokens, limit, where)
                    self.assertEqual(r.total_tokens, c.estimate_tokens(r.context), where)
                    self.assertEqual(len(r.section_results), 3, where)
                    for s in r.section_results:
                        self.assertEqual(s.tokens_used, c.estimate_tokens(s.content), where)
                    if limit >= 5000:
                        self.assertFalse(any(s.truncated for s in r.section_results), where)
                    elif limit <= 150:
                        self.assertTrue(r.section_results[-1].truncated, where)

    def test_o200k_budget(self):
        r = self.client.query("budget", self.sections(), 100, "text", model="gpt-4o")
        self.assertLessEqual(r.total_tokens, 100)
        self.assertEqual(r.total_tokens, self.client.estimate_tokens(r.context, "gpt-4o"))

    def test_strategies_cut_the_right_end(self):
        c = self.client
        text = " ".join("w%d" % i for i in range(3000))
        tail = c.query("b", [literal("L", text)], 50, "text", TAIL_DROP)
        head = c.query("b", [literal("L", text)], 50, "text", HEAD_DROP)
        self.assertTrue(tail.context.startswith("L\n\nw0 w1 w2"), tail.context[:40])
        self.assertTrue(head.context.endswith("w2998 w2999"), head.context[-40:])
        self.assertTrue(tail.section_results[0].truncated and head.section_results[0].truncated)
        details = self.assertStatus(grpc.StatusCode.OUT_OF_RANGE, c.query, "b",
                                    [literal("L", text)], 50, "text", STRICT)
        self.assertIn("token_limit is 50", details)
        fits = c.query("b", [literal("L", "short")], 50, "text", STRICT)
        self.assertEqual(fits.context, "L\n\nshort")
        both = c.query("b", [literal("A", text), literal("B", text, priority=1)], 200, "text",
                       PROPORTIONAL)
        a, b = both.section_results
        self.assertTrue(a.truncated and b.truncated)
        self.assertGreater(b.tokens_used, 40)  # both keep a share, not only the first
        self.assertGreater(a.tokens_used, 40)

    def test_sections_past_the_budget_are_reported_empty(self):
        c = self.client
        r = c.query("b", [literal("A", prose(400)), literal("B", "small", priority=5)], 60,
                    "markdown")
        self.assertEqual(r.section_results[1].content, "")
        self.assertTrue(r.section_results[1].truncated)


class Formats(ContextCase):
    def test_every_format_keeps_every_section(self):
        c = self.client
        c.write("fmt", "ZEBRA-MARKER lives in the episode.")
        self.kv.put(b"k", b"KV-MARKER value", namespace="fmt")
        sections = [literal("one", "LITERAL-MARKER"),
                    section("two", LAST, namespace="fmt"),
                    section("three", GET, "fmt/k")]
        for fmt in ("toon", "json", "markdown", "text"):
            r = c.query("fmt", sections, 4096, fmt)
            for marker in ("LITERAL-MARKER", "ZEBRA-MARKER", "KV-MARKER"):
                self.assertIn(marker, r.context, fmt)
            for s in r.section_results:
                self.assertNotEqual(s.content, "", fmt)

    def test_toon_decodes_to_the_json_output(self):
        c = self.client
        for i in range(12):
            c.write("toon-ns", "Fact %d, with commas: a, b; and \"quotes\" %s" % (i, prose(8, i)))
        sections = [literal("SYSTEM", "Answer: briefly.\nUse the facts."),
                    section("recent", LAST, namespace="toon-ns", top_k=5),
                    section("facts", SEARCH, "fact commas", namespace="toon-ns", top_k=4)]
        as_json = json.loads(c.query("toon-ns", sections, 8000, "json").context)
        toon = c.query("toon-ns", sections, 8000, "toon").context
        self.assertIn("episodes[5]{id,t_valid_from,text}:", toon)
        decoded, reason = toon_reference.decode_toon(toon)
        if decoded is None:
            self.skipTest(reason)
        self.assertTrue(toon_reference.json_equal(decoded, as_json), (decoded, as_json))
        self.assertLess(c.estimate_tokens(toon), c.estimate_tokens(json.dumps(as_json)))


class BadInput(ContextCase):
    def test_refusals_name_the_field(self):
        c = self.client
        cases = [
            ([section("x", 9)], "section_type"),
            ([section("x", LAST, top_k="ten")], "top_k"),
            ([section("x", LAST, top_k=0)], "top_k"),
            ([section("x", SEARCH, "")], "SEARCH"),
            ([section("x", SEARCH, "q", embedding=[float("nan")])], "query_embedding"),
            ([literal("x", "y" * (5 << 20))], "literal"),
            ([section("x", GET, "ns/")], "query"),
            ([section("x", GET, episode_text="", namespace="n")], "episode_text"),
            ([section("x", GET, "a", lanes="sideways")], "lanes"),
            ([literal("x", "y")] * 65, "sections"),
        ]
        for sections, field in cases:
            details = self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, c.query, "bad",
                                        sections)
            self.assertIn(field, details)

    def test_a_refused_query_writes_nothing(self):
        c = self.client
        self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, c.query, "nowrite", [
            section("ingest", GET, episode_text="must not land"),
            section("bad", LAST, top_k="x")])
        self.assertEqual(c.list_episodes("nowrite"), [])

    def test_nul_and_unicode_survive(self):
        c = self.client
        text = "a\x00b — ünïcødé 😀"
        eid = c.write("nul", text)
        self.assertEqual(c.get_episode("nul", eid).text, text)
        r = c.query("nul", [section("x", GET, doc_id=eid)], 100, "json")
        self.assertEqual(json.loads(r.context)["sections"][0]["episodes"][0]["text"], text)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        sochdb_e2e.cleanup(WORK)
