// The keys and records of agent memory (engine/storage/keys.h families kEpisode, kEpisodeMeta
// and kEpisodeTime) and the character trigrams of the trigram lane. Decoders never read past
// their input: a malformed record is DATA_LOSS naming the episode or the namespace.
#ifndef SOCHDB_ENGINE_MEMORY_MEMORY_RECORDS_H_
#define SOCHDB_ENGINE_MEMORY_MEMORY_RECORDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sochdb::memory::internal {

// What an episode record holds; the embedding lives in the vector space (has_embedding).
struct EpisodeRecord {
  uint64_t t_valid_from_ms = 0;
  uint64_t t_created_ms = 0;
  std::string text;
  std::string metadata_json;
  bool has_embedding = false;
};

// The namespace's metadata (kEpisodeMeta), rewritten by every write.
struct Meta {
  uint64_t next_id = 1;    // the id the next episode gets: never reused
  uint64_t episodes = 0;   // live episodes
  uint32_t dimension = 0;  // 0 until the first embedded episode fixes it
  uint64_t space_id = 0;   // names the vector space (random; set with the dimension)
};

std::string EpisodeKey(std::string_view ns, uint64_t id);
std::string EpisodePrefix(std::string_view ns);
std::string MetaKey(std::string_view ns);
std::string TimeKey(std::string_view ns, uint64_t t_valid_from_ms, uint64_t id);
std::string TimePrefix(std::string_view ns);
// The vector space's scope {"m", ns, 8-byte space id} and snapshot file name.
std::vector<std::string> VectorScope(std::string_view ns, uint64_t space_id);
std::string SnapshotFile(uint64_t space_id);

// 8 big-endian bytes: the vector ids of episodes.
std::string IdBytes(uint64_t id);
bool ParseIdBytes(std::string_view bytes, uint64_t* id);
// The id of an EpisodeKey or TimeKey whose prefix the caller checked; false when the key's tail
// is not what the family puts there.
bool ParseEpisodeKeyId(std::string_view key, size_t prefix_bytes, uint64_t* id);
bool ParseTimeKey(std::string_view key, size_t prefix_bytes, uint64_t* t_valid_from_ms,
                  uint64_t* id);

std::string EncodeEpisode(const EpisodeRecord& record);
absl::StatusOr<EpisodeRecord> DecodeEpisode(std::string_view bytes, uint64_t id);
std::string EncodeMeta(const Meta& meta);
absl::StatusOr<Meta> DecodeMeta(std::string_view bytes);

// The distinct trigrams of `text` (sorted): every run of three consecutive characters after
// case folding (ASCII, and the capitals of Latin-1, Latin Extended-A, Greek and Cyrillic, by
// simple lowercase: Unicode's full folding would need its tables). Characters are UTF-8
// sequences (a lead byte and its continuation bytes); any other byte is a character of its
// own, so every input is handled deterministically.
std::vector<std::string> Trigrams(std::string_view text);
// Calls `visit` with every trigram of `text` as Trigrams cuts them, in text order, repeats
// included (the view is valid during the call).
void ForEachTrigram(std::string_view text, absl::FunctionRef<void(std::string_view)> visit);

}  // namespace sochdb::memory::internal

#endif  // SOCHDB_ENGINE_MEMORY_MEMORY_RECORDS_H_
