// The keyspace codec behind keys.h: the one place that writes and parses the byte layout of
// storage keys. Decoding is strict (known family bytes, canonical varints, full-width integers)
// so that every key has exactly one parse and a malformed key is rejected instead of misread.
#include "engine/storage/keys.h"

#include <cstdio>
#include <cstdlib>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/storage/varint.h"

namespace sochdb::storage {
namespace {

// Building a key wrongly is a programming error in the engine, not bad input: requests are
// validated long before they reach the codec. Crash with a message rather than write a key that
// cannot be parsed back.
[[noreturn]] void DieMisuse(const char* what) {
  std::fprintf(stderr, "sochdb::storage::KeyBuilder misuse: %s\n", what);
  std::abort();
}

bool IsKnownFamily(uint8_t byte) {
  // No default: -Werror=switch makes a new family fail to compile until it is listed here.
  switch (static_cast<KeyFamily>(byte)) {
    case KeyFamily::kMeta:
    case KeyFamily::kKv:
    case KeyFamily::kKvExpiry:
    case KeyFamily::kVectorIndex:
    case KeyFamily::kVector:
    case KeyFamily::kCollection:
    case KeyFamily::kDocument:
    case KeyFamily::kPosting:
    case KeyFamily::kVectorLog:
    case KeyFamily::kGraphNode:
    case KeyFamily::kGraphOutEdge:
    case KeyFamily::kGraphInEdge:
    case KeyFamily::kGraphTemporalEdge:
    case KeyFamily::kGraphTemporalInEdge:
    case KeyFamily::kCacheEntry:
    case KeyFamily::kCacheMeta:
    case KeyFamily::kPolicy:
    case KeyFamily::kTool:
    case KeyFamily::kTrace:
    case KeyFamily::kCheckpoint:
    case KeyFamily::kNamespace:
    case KeyFamily::kAuditLog:
    case KeyFamily::kChangeLog:
    case KeyFamily::kEpisode:
    case KeyFamily::kEpisodeMeta:
    case KeyFamily::kEpisodeTrigram:
    case KeyFamily::kEpisodeTime:
    case KeyFamily::kEpisodePosting:
    case KeyFamily::kRetrievalBinding:
    case KeyFamily::kRetrievalApplied:
      return true;
  }
  return false;
}

}  // namespace

KeyBuilder::KeyBuilder(KeyFamily family) { key_.push_back(static_cast<char>(family)); }

KeyBuilder KeyBuilder::After(std::string_view prefix) {
  if (prefix.empty()) DieMisuse("After() of an empty prefix (no family byte)");
  KeyBuilder builder;
  builder.key_.assign(prefix.data(), prefix.size());
  return builder;
}

KeyBuilder& KeyBuilder::Name(std::string_view name) {
  if (sealed_) DieMisuse("Name() after Raw()");
  if (name.size() > std::numeric_limits<uint32_t>::max()) DieMisuse("name longer than 4 GiB");
  PutVarint64(name.size(), &key_);
  key_.append(name.data(), name.size());
  return *this;
}

KeyBuilder& KeyBuilder::U64(uint64_t value) {
  if (sealed_) DieMisuse("U64() after Raw()");
  for (int shift = 56; shift >= 0; shift -= 8) {
    key_.push_back(static_cast<char>((value >> shift) & 0xff));
  }
  return *this;
}

KeyBuilder& KeyBuilder::Raw(std::string_view bytes) {
  if (sealed_) DieMisuse("Raw() after Raw()");
  key_.append(bytes.data(), bytes.size());
  sealed_ = true;
  return *this;
}

bool KeyReader::Fail() {
  failed_ = true;
  rest_ = std::string_view();
  return false;
}

bool KeyReader::Family(KeyFamily* family) {
  if (failed_ || rest_.empty()) return Fail();
  const uint8_t byte = static_cast<uint8_t>(rest_[0]);
  if (!IsKnownFamily(byte)) return Fail();
  *family = static_cast<KeyFamily>(byte);
  rest_.remove_prefix(1);
  return true;
}

bool KeyReader::Name(std::string_view* name) {
  // Lengths are varint32s: GetVarint64 accepts only the canonical encoding, so two different
  // byte strings never decode to the same name.
  uint64_t length = 0;
  if (failed_ || !GetVarint64(&rest_, &length)) return Fail();
  if (length > std::numeric_limits<uint32_t>::max() || rest_.size() < length) return Fail();
  *name = rest_.substr(0, length);
  rest_.remove_prefix(length);
  return true;
}

bool KeyReader::U64(uint64_t* value) {
  if (failed_ || rest_.size() < 8) return Fail();
  uint64_t result = 0;
  for (int i = 0; i < 8; ++i) {
    result = (result << 8) | static_cast<uint8_t>(rest_[i]);
  }
  *value = result;
  rest_.remove_prefix(8);
  return true;
}

std::string QuotedKey(std::string_view key) {
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(key.data(), key.size())), "\"");
}

std::string PrefixSuccessor(std::string_view prefix) {
  std::string successor(prefix);
  while (!successor.empty() && static_cast<uint8_t>(successor.back()) == 0xff) {
    successor.pop_back();
  }
  if (!successor.empty()) {
    successor.back() = static_cast<char>(static_cast<uint8_t>(successor.back()) + 1);
  }
  return successor;
}

std::string SchemaVersionKey() { return KeyBuilder(KeyFamily::kMeta).Name("schema_version").key(); }

std::string NamespaceRecordKey(std::string_view ns) {
  return KeyBuilder(KeyFamily::kNamespace).Name(ns).key();
}

bool ParseNamespaceRecordKey(std::string_view key, std::string_view* ns) {
  KeyReader reader(key);
  KeyFamily family;
  return reader.Family(&family) && family == KeyFamily::kNamespace && reader.Name(ns) &&
         reader.Rest().empty();
}

std::string NamespacePrefix(KeyFamily family, std::string_view ns) {
  return KeyBuilder(family).Name(ns).key();
}

bool KvExpiryNamespace(std::string_view key, std::string_view* ns) {
  KeyReader reader(key);
  KeyFamily family;
  uint64_t expiry = 0;
  return reader.Family(&family) && family == KeyFamily::kKvExpiry && reader.U64(&expiry) &&
         reader.Name(ns);
}

}  // namespace sochdb::storage
