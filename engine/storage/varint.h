// Varints: the one encoding of unsigned integers as 7-bit groups, least significant first, each
// byte but the last with its high bit set (LevelDB's and protobuf's varint). Key names are
// length-prefixed with them (keys.h), and records use them for counts and lengths (documents,
// BM25 postings and statistics). Decoding is strict: only the shortest encoding of a value is
// accepted and a value past 64 bits is refused, so every byte string has at most one reading and
// a damaged record is rejected rather than misread.
#ifndef SOCHDB_ENGINE_STORAGE_VARINT_H_
#define SOCHDB_ENGINE_STORAGE_VARINT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sochdb::storage {

// The longest varint: 10 bytes hold 64 bits (10 * 7 = 70).
inline constexpr size_t kMaxVarint64Bytes = 10;

// Appends `value` to `*out`.
void PutVarint64(uint64_t value, std::string* out);

// Reads one varint from the front of `*in` and removes it. False, with `*in` and `*value`
// unchanged, when `*in` does not start with a canonical varint of at most 64 bits (truncated,
// overlong such as "\x80\x00", or too large).
bool GetVarint64(std::string_view* in, uint64_t* value);

// The bytes PutVarint64(value) appends (1..10): what a varint length or count adds to an encoded
// size, here and in protobuf's wire format alike.
size_t VarintLength(uint64_t value);

// Appends a varint length, then `bytes`: a string inside a record.
void PutLengthPrefixed(std::string_view bytes, std::string* out);
// Reads what PutLengthPrefixed wrote from the front of `*in` into `*bytes` (a view into the
// input) and removes it. False when `*in` does not start with one.
bool GetLengthPrefixed(std::string_view* in, std::string_view* bytes);

}  // namespace sochdb::storage

#endif  // SOCHDB_ENGINE_STORAGE_VARINT_H_
