// The keyspace: how every persistent object maps to a LevelDB key. This file (with keys.cc) is the
// one owner of the layout; no other code builds or parses storage keys by hand.
//
// A key is one family byte followed by components. Names (tenants, namespaces, collections, ...)
// are length-prefixed (varint32 length, then the bytes), so ("a", "b:c") and ("a:b", "c") can
// never encode to the same key. Integers are fixed 8-byte big-endian, so they sort numerically.
// A key may end with one raw, unprefixed component (a KV user key, say): it is the last thing in
// the key, so it needs no length, and keys that share the earlier components sort by it bytewise,
// which is what prefix scans need.
#ifndef SOCHDB_ENGINE_STORAGE_KEYS_H_
#define SOCHDB_ENGINE_STORAGE_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace sochdb::storage {

// The first byte of every key. Values are persistent: never renumber, only add.
enum class KeyFamily : uint8_t {
  kMeta = 0x01,         // store metadata: Name(item)                       (schema version, ...)
  kKv = 0x10,           // Name(namespace) Raw(user key)                     -> KV value record
  kKvExpiry = 0x11,     // U64(expiry unix ms) Name(namespace) Raw(user key) -> "" (TTL index)
  kVectorIndex = 0x20,  // Name(tenant) Name(index)                      -> index definition
  kVector = 0x21,       // Name(scope...) Raw(vector id)                 -> vector record
  kCollection = 0x22,   // Name(namespace) Name(collection)              -> collection definition
  kDocument = 0x23,     // Name(namespace) Name(collection) Raw(doc id)  -> document record
  kPosting = 0x24,      // BM25 postings (engine/text)
  kVectorLog = 0x25,    // Name(scope...) U64(sequence)                  -> vector change (replay)
  kGraphNode = 0x30,          // Name(namespace) Raw(node id)                -> node record
  kGraphOutEdge = 0x31,       // Name(ns) Name(from) Name(type) Raw(to)       -> edge record
  kGraphInEdge = 0x32,        // Name(ns) Name(to) Name(type) Raw(from)       -> edge record
  kGraphTemporalEdge = 0x33,  // Name(ns) Name(from) Name(type) Name(to) U64(valid_from)
  kGraphTemporalInEdge = 0x34,  // Name(ns) Name(to) Name(type) Name(from) U64(valid_from)
  kCacheEntry = 0x40,   // Name(tenant) Name(cache) Raw(entry key)    -> cache entry record
  kCacheMeta = 0x41,    // Name(tenant) Name(cache)                   -> cache record (stats)
  kPolicy = 0x50,
  kTool = 0x51,
  kTrace = 0x52,
  kCheckpoint = 0x53,
  kNamespace = 0x54,    // Name(namespace)                               -> namespace record
  kAuditLog = 0x55,     // Name(tenant) U64(unix ms) U64(sequence)  -> audit record (policy LOG)
  kChangeLog = 0x60,
  // Agent memory (engine/memory), all namespace-first. ~x is the bitwise complement, so that
  // ascending key order is newest first.
  kEpisode = 0x70,         // Name(ns) U64(id)                          -> episode record
  kEpisodeMeta = 0x71,     // Name(ns)                       -> next id, dimension, counts
  kEpisodeTrigram = 0x72,  // Name(ns) Name(trigram) U64(~id)    -> U64(t_valid_from)
  kEpisodeTime = 0x73,     // Name(ns) U64(~t_valid_from) U64(~id)      -> "" (Latest, as_of)
  kEpisodePosting = 0x74,  // Name(ns) ...  BM25 postings of episodes (engine/text scope)
  // Retrieval protocol v2 (engine/retrieval), tenant-first like the vector indexes they name.
  kRetrievalBinding = 0x80,  // Name(tenant) U64(id high) U64(id low)  -> index name, incarnation
  kRetrievalApplied = 0x81,  // Name(tenant) Raw(operation id, 32 bytes) -> inserted, generation
};

// The families whose keys begin with Name(namespace) right after the family byte and whose data
// no subsystem keeps in memory: deleting a namespace deletes their keys by prefix
// (NamespacePrefix). Every namespaced family is keyed namespace-first, so that a namespace's data
// is one range per family; a new one is listed here, unless its subsystem holds it in memory
// and deletes it itself, as collections do (kCollection, kDocument, kPosting and their vectors:
// CollectionStore::Delete). Agent memory's families are listed; its vectors (kVector scope
// {"m", ns, ...}) are dropped by MemoryStore as a NamespaceDataOwner. kKvExpiry is keyed by
// expiry time first and is swept entry by entry (KvExpiryNamespace).
inline constexpr KeyFamily kNamespacePrefixedFamilies[] = {
    KeyFamily::kKv,          KeyFamily::kGraphNode,         KeyFamily::kGraphOutEdge,
    KeyFamily::kGraphInEdge, KeyFamily::kGraphTemporalEdge, KeyFamily::kGraphTemporalInEdge,
    KeyFamily::kEpisode,     KeyFamily::kEpisodeMeta,       KeyFamily::kEpisodeTrigram,
    KeyFamily::kEpisodeTime, KeyFamily::kEpisodePosting,
};

// Builds one key. Components are appended in call order.
class KeyBuilder {
 public:
  explicit KeyBuilder(KeyFamily family);
  // Goes on from `prefix`, a key built earlier (a scope's prefix that its owner keeps) and not
  // ended by Raw(): After(KeyBuilder(f).Name(a).key()).Name(b) is KeyBuilder(f).Name(a).Name(b).
  static KeyBuilder After(std::string_view prefix);

  KeyBuilder& Name(std::string_view name);  // varint32 length + bytes
  KeyBuilder& U64(uint64_t value);          // 8 bytes, big-endian
  // An unprefixed tail. Must be the last component: nothing may be appended after it.
  KeyBuilder& Raw(std::string_view bytes);

  const std::string& key() const { return key_; }
  std::string Build() && { return std::move(key_); }

 private:
  KeyBuilder() = default;

  std::string key_;
  bool sealed_ = false;  // Raw() was called
};

// Parses a key built by KeyBuilder, component by component. Every getter returns false (and
// leaves the reader unusable) when the remaining bytes do not hold that component.
class KeyReader {
 public:
  explicit KeyReader(std::string_view key) : rest_(key) {}

  bool Family(KeyFamily* family);
  bool Name(std::string_view* name);
  bool U64(uint64_t* value);
  // Everything not yet consumed (the Raw tail); empty once a getter has failed.
  std::string_view Rest() const { return rest_; }

 private:
  bool Fail();  // marks the reader unusable; returns false

  std::string_view rest_;
  bool failed_ = false;
};

// The smallest key that is greater than every key starting with `prefix`, or "" when no such
// key exists (the prefix is empty or all 0xff): iterate while key < successor, or to the end.
std::string PrefixSuccessor(std::string_view prefix);

// A key (or a name) as messages show it: C-escaped, since keys are bytes, in quotes.
std::string QuotedKey(std::string_view key);

// The key of the schema-version record, checked at open.
std::string SchemaVersionKey();

// The namespace registry's record of `ns` (engine/namespace): kNamespace Name(ns).
std::string NamespaceRecordKey(std::string_view ns);
// The namespace a NamespaceRecordKey names; false when `key` is not one.
bool ParseNamespaceRecordKey(std::string_view key, std::string_view* ns);
// The prefix of every key of `family` that belongs to `ns`, for the families keyed
// namespace-first (kNamespacePrefixedFamilies, kCollection, kDocument, kPosting).
std::string NamespacePrefix(KeyFamily family, std::string_view ns);
// The namespace of a KV TTL index key (kKvExpiry U64(expiry) Name(ns) Raw(key)); false when
// `key` does not decode as one.
bool KvExpiryNamespace(std::string_view key, std::string_view* ns);

}  // namespace sochdb::storage

#endif  // SOCHDB_ENGINE_STORAGE_KEYS_H_
