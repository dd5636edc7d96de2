#!/usr/bin/env python3
"""How many tokens TOON saves over JSON on the contexts sochdb assembles for an LLM.

Builds seeded, realistic contexts (retrieved episodes with id, t_valid_from, score and text; a
user profile; a chat history; KV entries; a multi-section context as ContextService returns
it), writes each as pretty JSON (indent 2), compact JSON and TOON (our encoder,
//tools/toon:toon_encode, comma and tab delimiters), counts tokens with gpt-tokenizer
(cl100k_base and o200k_base, installed with npm into the shared cache, pinned), and prints a
Markdown table for docs/benchmarks.md.

    bazel build //tools/toon:toon_encode && python3 tools/toon/toon_tokens.py

Run from the workspace root. --encoder PATH overrides bazel-bin/tools/toon/toon_encode.
"""

import argparse
import json
import os
import random
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import toon_reference  # noqa: E402  (the pinned-npm-package installer)

TOKENIZER = "gpt-tokenizer"
TOKENIZER_VERSION = "4.0.0"
TOKENIZER_INTEGRITY = ("sha512-YAWIyzvuVUHEfW7tFfFAxH8qQb+Q3RU9nYOTy7skMNX5qzU6Q8jxTHZLyO56ug1vYvCR"
                       "7wndzpd3jwD86/mhjQ==")
COUNTER = os.path.join(ROOT, "tools", "toon", "count_tokens.mjs")
ENCODINGS = ("cl100k_base", "o200k_base")
SEED = 19

SUBJECTS = ["The user", "Alice", "The customer", "Bob from finance", "The on-call engineer",
            "Our agent", "Maria", "The team lead"]
VERBS = ["asked about", "reported a problem with", "prefers", "scheduled a review of",
         "approved", "rejected", "mentioned", "uploaded", "wants a summary of", "cancelled"]
OBJECTS = ["the Q3 invoice", "order #48213", "the staging deployment", "their flight to Lisbon",
           "the quarterly OKRs", "dark mode in the dashboard", "the API rate limits",
           "the vector index rebuild", "a refund for the annual plan", "the onboarding checklist"]
DETAILS = ["It happened on 2025-03-14 around 09:40 UTC.", "The amount was 1,249.00 EUR.",
           "They said it was urgent, please follow up by Friday.",
           "See ticket SUP-2291 for the full thread.", "The previous attempt failed with a 502.",
           "They would like email updates rather than Slack messages.",
           "Latency went from 38 ms to 212 ms after the change.",
           "This is the second time this month.", "No action is needed until the audit closes."]


def sentence(rng):
    text = "%s %s %s." % (rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS))
    for _ in range(rng.randint(0, 2)):
        text += " " + rng.choice(DETAILS)
    return text


def episodes(rng, n, first_id=1000):
    t = 1764000000000
    out = []
    for i in range(n):
        t += rng.randint(60_000, 86_400_000)
        out.append({"id": first_id + i, "t_valid_from": t,
                    "score": round(rng.uniform(0.2, 0.99), 4), "text": sentence(rng)})
    out.sort(key=lambda e: -e["score"])
    return out


def profile(rng):
    return {
        "user_id": "u_7f3a9c",
        "name": "Alice Martin",
        "email": "alice.martin@example.com",
        "locale": "fr-FR",
        "timezone": "Europe/Paris",
        "plan": {"tier": "business", "seats": 25, "renews_at": "2026-09-01", "annual": True},
        "preferences": {"tone": "concise", "language": "English", "notifications": "email",
                        "dark_mode": True},
        "tags": ["vip", "beta-tester", "eu", "finance"],
        "addresses": [
            {"kind": "billing", "city": "Paris", "country": "FR", "postcode": "75011"},
            {"kind": "shipping", "city": "Lyon", "country": "FR", "postcode": "69002"},
        ],
        "recent_orders": [
            {"order_id": 48213 + i, "total": round(rng.uniform(20, 900), 2),
             "status": rng.choice(["shipped", "delivered", "refunded"])} for i in range(5)],
    }


def chat(rng, turns):
    t = 1764000000000
    out = []
    for i in range(turns):
        t += rng.randint(5_000, 120_000)
        out.append({"role": "user" if i % 2 == 0 else "assistant", "content": sentence(rng),
                    "ts": t})
    return out


def kv_entries(rng, n):
    return [{"key": "users/u_%04d/settings/%s" % (rng.randint(0, 9999),
                                                  rng.choice(["theme", "lang", "quota"])),
             "value": rng.choice(["dark", "light", "en", "fr", str(rng.randint(1, 5000))])}
            for _ in range(n)]


def contexts():
    rng = random.Random(SEED)
    return [
        ("20 retrieved episodes", {"episodes": episodes(rng, 20)}),
        ("50 retrieved episodes", {"episodes": episodes(rng, 50)}),
        ("100 retrieved episodes", {"episodes": episodes(rng, 100)}),
        ("user profile (nested object)", profile(rng)),
        ("chat history, 30 turns", {"messages": chat(rng, 30)}),
        ("50 KV entries", {"entries": kv_entries(rng, 50)}),
        ("multi-section context", {"sections": [
            {"name": "profile", "type": "GET", "content": profile(rng)},
            {"name": "recent", "type": "LAST", "content": episodes(rng, 10, 5000)},
            {"name": "memory", "type": "SEARCH", "content": episodes(rng, 30, 7000)},
            {"name": "instructions", "type": "LITERAL",
             "content": "Answer in English. Cite episode ids."},
        ]}),
    ]


def encode_toon(encoder, values, delimiter):
    stdin = "".join(json.dumps(v) + "\n" for v in values)
    done = subprocess.run([encoder, "--lines", "--delimiter", delimiter], input=stdin,
                          capture_output=True, text=True, check=True)
    return [json.loads(line)["toon"] for line in done.stdout.split("\n") if line]


def count_tokens(prefix, texts):
    stdin = "".join(json.dumps(t) + "\n" for t in texts)
    done = subprocess.run(["node", COUNTER, "--package-dir", prefix], input=stdin,
                          capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.split("\n") if line]


def saving(base, toon):
    return "%+.1f%%" % (100.0 * (toon - base) / base)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default=os.path.join(ROOT, "bazel-bin", "tools", "toon",
                                                          "toon_encode"))
    args = parser.parse_args()
    prefix, reason = toon_reference.install(TOKENIZER, TOKENIZER_VERSION, TOKENIZER_INTEGRITY)
    if reason:
        sys.exit("cannot count tokens: " + reason)
    named = contexts()
    values = [v for _, v in named]
    forms = {
        "json_pretty": [json.dumps(v, indent=2, ensure_ascii=False) for v in values],
        "json_compact": [json.dumps(v, separators=(",", ":"), ensure_ascii=False)
                         for v in values],
        "toon": encode_toon(args.encoder, values, "comma"),
        "toon_tab": encode_toon(args.encoder, values, "tab"),
    }
    counts = {form: count_tokens(prefix, texts) for form, texts in forms.items()}
    print("Tokens by %s@%s; TOON by sochdb's encoder (spec v3.3). Saving = TOON vs JSON."
          % (TOKENIZER, TOKENIZER_VERSION))
    for encoding in ENCODINGS:
        print("\n%s:\n" % encoding)
        print("| context | JSON pretty | JSON compact | TOON | TOON (tab) | vs pretty | "
              "vs compact | tab vs compact |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for i, (name, _) in enumerate(named):
            pretty, compact, toon, tab = (counts[f][i][encoding] for f in
                                          ("json_pretty", "json_compact", "toon", "toon_tab"))
            print("| %s | %d | %d | %d | %d | %s | %s | %s |" % (
                name, pretty, compact, toon, tab, saving(pretty, toon), saving(compact, toon),
                saving(compact, tab)))
    print("\nBytes (UTF-8):\n")
    print("| context | JSON pretty | JSON compact | TOON |")
    print("|---|---:|---:|---:|")
    for i, (name, _) in enumerate(named):
        print("| %s | %d | %d | %d |" % (name, *(len(forms[f][i].encode()) for f in
                                                ("json_pretty", "json_compact", "toon"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
