#include "services/capability/manifest.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/common/version.h"

namespace sochdb::services {
namespace {

constexpr auto kSupported = v1::CAPABILITY_MATURITY_SUPPORTED;
constexpr auto kPreview = v1::CAPABILITY_MATURITY_PREVIEW;
constexpr auto kDurable = v1::CAPABILITY_DURABILITY_DURABLE;

struct Entry {
  std::string name;
  uint32_t major = 1;
  uint32_t minor = 0;
  v1::CapabilityMaturity maturity;
  v1::CapabilityDurability durability;
  std::vector<std::string> needs;  // services (short names, package sochdb.v1)
  std::vector<std::string> guarantees;
  std::vector<std::string> limits;
};

// Every capability this build can offer. The texts must stay true: each one is what
// docs/services.md documents and a test checks.
const std::vector<Entry>& Catalogue() {
  static const std::vector<Entry>* entries = new std::vector<Entry>{
      {"kv.store", 1, 0, kSupported, kDurable, {"KvService"},
       {"every acknowledged write survives a restart and kill -9 (with --sync full also a power "
        "cut)",
        "Scan with a limit returns the first keys in key order",
        "a namespace is usable only by the tenant that owns it"},
       {"keys 1 byte to 16 KiB; values up to 8 MiB; ttl_seconds up to 100 years",
        "BatchGet and BatchPut: 10,000 entries a call; BatchPut 48 MiB a call"}},
      {"vector.hnsw.search", 1, 0, kSupported, kDurable, {"VectorIndexService"},
       {"indexes and their vectors survive restarts and kill -9 (snapshot plus change log)",
        "results by ascending distance, ties by ascending id",
        "an index is visible only to its tenant"},
       {"approximate (HNSW): recall can be below 1",
        "dimension 1 to 4,096; k up to 10,000 a query; num_queries x k up to 1,000,000; ef up "
        "to 65,536",
        "answers up to --max-response-mb"}},
      {"vector.ingest.batch", 1, 0, kSupported, kDurable, {"VectorIndexService"},
       {"an InsertBatch is one atomic write: every vector of it or none",
        "components must be finite; a bad vector is refused naming its position"},
       {"100,000 vectors an InsertBatch, each id once", "vector ids are 64-bit"}},
      {"collection.search.hybrid", 1, 0, kSupported, kDurable, {"CollectionService"},
       {"a document, its vectors and its postings commit together or not at all",
        "search honours the collection's metric; vector, keyword (BM25) and hybrid search"},
       {"10,000 documents an AddDocuments call, 64 embeddings a document",
        "filter_json up to 16 KiB, depth 32, 1,024 conditions"}},
      {"graph.service", 1, 0, kSupported, kDurable, {"GraphService", "GraphExtensionService"},
       {"one graph per namespace, persistent",
        "DeleteNode removes the node's edges everywhere in one atomic write"},
       {"traversals: depth 1,000, 100,000 nodes and edges, the call's deadline",
        "AddNodes and AddEdges: 10,000 items and 32 MiB a call"}},
      {"context.assembly", 1, 0, kPreview, kDurable, {"ContextService", "ContextExtensionService"},
       {"episodes persist across restarts",
        "token counts are exact cl100k_base / o200k_base counts when the tables are loaded"},
       {"SELECT sections are UNIMPLEMENTED (no query service)",
        "64 sections a query; literal text 4 MiB; episodes 1 MiB",
        "needs the BPE tables (--tokenizer-dir)",
        "BM25 and trigram lanes held in memory (~1 KB an episode), built on a namespace's first "
        "use after a start"}},
      {"cache.semantic", 1, 0, kSupported, kDurable,
       {"SemanticCacheService", "SemanticCacheExtensionService"},
       {"entries survive restarts and kill -9", "an exact match on the query text comes first"},
       {"keys 8 KiB, values 1 MiB, embeddings 4,096 floats",
        "1,000,000 entries a cache, 1,000 caches a tenant"}},
      {"governance.policy", 1, 0, kSupported, kDurable, {"PolicyService"},
       {"a tenant's policies bind every data call of that tenant, through one governance step",
        "policies persist across restarts"},
       {"10,000 rules a tenant", "patterns are RE2 globs up to 1 KiB"}},
      {"namespace.registry", 1, 0, kSupported, kDurable, {"NamespaceService"},
       {"DeleteNamespace deletes the namespace's data, crash-safe",
        "quota usage is counted exactly across overwrites, deletes, TTL purges and restarts"},
       {"quotas are enforced on KV and collections only", "names 1 to 256 bytes"}},
      {"retrieval.protocol.v2", 2, 0, kPreview, kDurable,
       {"RetrievalService", "RetrievalExtensionService"},
       {"capability tokens are HMAC-SHA256, compared in constant time, at most 5 minutes long",
        "object-id bindings persist; a binding never follows a dropped index to a new one",
        "Ingest is applied at most once: its operation commits with its vectors, so a repeat "
        "after a restart or kill -9 answers applied=false",
        "every answer carries its index generation and an evidence digest"},
       {"one query a Retrieve; query_count, filter_ir, table_object_id and retrieval_profile "
        "are ignored",
        "vector ids are 64-bit (Uint128.high must be 0)",
        "a generation pin is honoured only for the current generation (no multi-version reads)",
        "without --retrieval-signing-key-file tokens are signed with a per-process key and stop "
        "verifying at a restart"}},
  };
  return *entries;
}

bool Served(const Entry& e, const std::set<std::string>& served) {
  return std::all_of(e.needs.begin(), e.needs.end(), [&](const std::string& s) {
    return served.count(absl::StrCat("sochdb.v1.", s)) == 1;
  });
}

}  // namespace

v1::CapabilityManifest BuildManifest(const std::vector<std::string>& served_services) {
  const std::set<std::string> served(served_services.begin(), served_services.end());
  v1::CapabilityManifest manifest;
  manifest.set_server_version(kProtocolVersion);
  manifest.set_build_revision(kVersion);
  for (const Entry& e : Catalogue()) {
    if (!Served(e, served)) continue;
    v1::CapabilityDescriptor* d = manifest.add_capabilities();
    d->set_name(e.name);
    d->mutable_contract_version()->set_major(e.major);
    d->mutable_contract_version()->set_minor(e.minor);
    d->set_maturity(e.maturity);
    d->set_durability(e.durability);
    for (const std::string& g : e.guarantees) d->add_guarantees(g);
    for (const std::string& l : e.limits) d->add_limits(l);
  }
  return manifest;
}

absl::Status ValidateManifest(const v1::CapabilityManifest& manifest) {
  std::set<std::string> names;
  for (const v1::CapabilityDescriptor& d : manifest.capabilities()) {
    auto bad = [&](const char* rule) {
      return absl::FailedPreconditionError(
          absl::StrCat("capability '", d.name(), "' breaks the manifest rules: ", rule));
    };
    if (d.name().empty()) return bad("its name is empty");
    if (!names.insert(d.name()).second) return bad("its name is listed twice");
    if (d.maturity() == v1::CAPABILITY_MATURITY_UNSPECIFIED) return bad("no maturity");
    if (d.durability() == v1::CAPABILITY_DURABILITY_UNSPECIFIED) return bad("no durability");
    if (d.maturity() == v1::CAPABILITY_MATURITY_SUPPORTED &&
        d.durability() == v1::CAPABILITY_DURABILITY_EPHEMERAL) {
      return bad("SUPPORTED but EPHEMERAL");
    }
    if (d.guarantees_size() == 0) return bad("no guarantee");
    if (d.maturity() >= v1::CAPABILITY_MATURITY_PREVIEW && d.limits_size() == 0) {
      return bad("PREVIEW or SUPPORTED without a limit");
    }
  }
  return absl::OkStatus();
}

}  // namespace sochdb::services
