#include "engine/memory/memory_records.h"

#include <algorithm>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/storage/field_record.h"
#include "engine/storage/keys.h"
#include "engine/storage/varint.h"

namespace sochdb::memory::internal {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;

constexpr char kEpisodeFormat = 0x01;
constexpr char kEmbedded = 0x01;  // flags byte: the episode has a vector in the space

bool GetBytes(std::string_view* in, std::string* out) {
  std::string_view bytes;
  if (!storage::GetLengthPrefixed(in, &bytes)) return false;
  out->assign(bytes.data(), bytes.size());
  return true;
}

// The byte length of the character starting at text[0] (a UTF-8 lead byte with its
// continuation bytes, or one byte).
size_t CharBytes(std::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  const size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  size_t n = 1;
  while (n < want && n < text.size() && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) ++n;
  return n;
}

// The simple lowercase of code point `c` for the capitals of Latin-1, Latin Extended-A, Greek
// and Cyrillic (a fixed rule, no tables); others unchanged.
uint32_t LowerCodePoint(uint32_t c) {
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
      (c >= 0x410 && c <= 0x42F)) {
    return c + 0x20;
  }
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if (c == 0x178) return 0xFF;
  const bool even_pairs = (c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177);
  const bool odd_pairs = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
  if ((even_pairs && c % 2 == 0) || (odd_pairs && c % 2 == 1)) return c + 1;
  return c;
}

// Appends character `ch` (as CharBytes cut it) case-folded: ASCII letters, and the two-byte
// UTF-8 characters LowerCodePoint folds.
void AppendFolded(std::string_view ch, std::string* out) {
  if (ch.size() == 1) {
    const char c = ch[0];
    out->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    return;
  }
  const auto b0 = static_cast<unsigned char>(ch[0]);
  if (ch.size() != 2 || b0 < 0xC2 || b0 > 0xDF) {
    out->append(ch);
    return;
  }
  const uint32_t c =
      LowerCodePoint(((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(ch[1]) & 0x3Fu));
  out->push_back(static_cast<char>(0xC0 | (c >> 6)));
  out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
}

}  // namespace

std::string EpisodeKey(std::string_view ns, uint64_t id) {
  return KeyBuilder(KeyFamily::kEpisode).Name(ns).U64(id).key();
}
std::string EpisodePrefix(std::string_view ns) {
  return storage::NamespacePrefix(KeyFamily::kEpisode, ns);
}
std::string MetaKey(std::string_view ns) {
  return KeyBuilder(KeyFamily::kEpisodeMeta).Name(ns).key();
}
std::string TimeKey(std::string_view ns, uint64_t t_valid_from_ms, uint64_t id) {
  return KeyBuilder(KeyFamily::kEpisodeTime).Name(ns).U64(~t_valid_from_ms).U64(~id).key();
}
std::string TimePrefix(std::string_view ns) {
  return storage::NamespacePrefix(KeyFamily::kEpisodeTime, ns);
}
std::vector<std::string> VectorScope(std::string_view ns, uint64_t space_id) {
  return {"m", std::string(ns), IdBytes(space_id)};
}
std::string SnapshotFile(uint64_t space_id) { return absl::StrFormat("mem-%016x.snap", space_id); }

std::string IdBytes(uint64_t id) {
  std::string bytes(8, '\0');
  for (int i = 7; i >= 0; --i, id >>= 8) bytes[i] = static_cast<char>(id & 0xff);
  return bytes;
}

bool ParseIdBytes(std::string_view bytes, uint64_t* id) {
  if (bytes.size() != 8) return false;
  *id = 0;
  for (char c : bytes) *id = (*id << 8) | static_cast<unsigned char>(c);
  return true;
}

bool ParseEpisodeKeyId(std::string_view key, size_t prefix_bytes, uint64_t* id) {
  return key.size() >= prefix_bytes && ParseIdBytes(key.substr(prefix_bytes), id);
}

bool ParseTimeKey(std::string_view key, size_t prefix_bytes, uint64_t* t_valid_from_ms,
                  uint64_t* id) {
  if (key.size() != prefix_bytes + 16 ||
      !ParseIdBytes(key.substr(prefix_bytes, 8), t_valid_from_ms) ||
      !ParseIdBytes(key.substr(prefix_bytes + 8), id)) {
    return false;
  }
  *t_valid_from_ms = ~*t_valid_from_ms;
  *id = ~*id;
  return true;
}

std::string EncodeEpisode(const EpisodeRecord& record) {
  std::string out(1, kEpisodeFormat);
  out.push_back(record.has_embedding ? kEmbedded : 0);
  storage::PutVarint64(record.t_valid_from_ms, &out);
  storage::PutVarint64(record.t_created_ms, &out);
  storage::PutLengthPrefixed(record.text, &out);
  storage::PutLengthPrefixed(record.metadata_json, &out);
  return out;
}

absl::StatusOr<EpisodeRecord> DecodeEpisode(std::string_view in, uint64_t id) {
  EpisodeRecord record;
  const bool ok = in.size() >= 2 && in[0] == kEpisodeFormat && (in[1] & ~kEmbedded) == 0;
  if (ok) {
    record.has_embedding = in[1] == kEmbedded;
    in.remove_prefix(2);
  }
  if (!ok || !storage::GetVarint64(&in, &record.t_valid_from_ms) ||
      !storage::GetVarint64(&in, &record.t_created_ms) || !GetBytes(&in, &record.text) ||
      !GetBytes(&in, &record.metadata_json) || !in.empty()) {
    return absl::DataLossError(absl::StrCat("the record of episode ", id, " is malformed"));
  }
  return record;
}

std::string EncodeMeta(const Meta& meta) {
  storage::FieldRecordWriter out;
  out.Number("next_id", meta.next_id)
      .Number("episodes", meta.episodes)
      .Number("dimension", meta.dimension)
      .Number("space_id", meta.space_id);
  return std::move(out).Build();
}

absl::StatusOr<Meta> DecodeMeta(std::string_view bytes) {
  auto record = storage::FieldRecord::Parse(bytes, "episode namespace record");
  if (!record.ok()) return record.status();
  Meta meta;
  absl::Status s = record->Number("next_id", &meta.next_id, 1);
  if (s.ok()) s = record->Number("episodes", &meta.episodes);
  if (s.ok()) s = record->Number32("dimension", &meta.dimension);
  if (s.ok()) s = record->Number("space_id", &meta.space_id);
  if (!s.ok()) return s;
  return meta;
}

void ForEachTrigram(std::string_view text, absl::FunctionRef<void(std::string_view)> visit) {
  std::string folded;
  folded.reserve(text.size());
  std::vector<size_t> starts;  // where each character of `folded` begins
  starts.reserve(text.size() + 1);
  for (std::string_view rest = text; !rest.empty();) {
    const size_t n = CharBytes(rest);
    starts.push_back(folded.size());
    AppendFolded(rest.substr(0, n), &folded);
    rest.remove_prefix(n);
  }
  starts.push_back(folded.size());
  const std::string_view all = folded;
  for (size_t i = 0; i + 3 < starts.size(); ++i) {
    visit(all.substr(starts[i], starts[i + 3] - starts[i]));
  }
}

std::vector<std::string> Trigrams(std::string_view text) {
  std::vector<std::string> trigrams;
  ForEachTrigram(text, [&](std::string_view gram) { trigrams.emplace_back(gram); });
  std::sort(trigrams.begin(), trigrams.end());
  trigrams.erase(std::unique(trigrams.begin(), trigrams.end()), trigrams.end());
  return trigrams;
}

}  // namespace sochdb::memory::internal
