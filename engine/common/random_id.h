// Random identifiers: document ids (RFC 4122 version-4 UUIDs) and the incarnation numbers that
// tell a recreated index or collection from its predecessor. Both come from Abseil's bit
// generator (Randen), seeded from the operating system's entropy for each thread, so ids do not
// repeat across processes or restarts and cannot be worked out from earlier ones by a simple
// generator's state (as std::mt19937's can). libuuid would do the same with a system call per id.
//
// Thread-safe: each thread has its own generator.
#ifndef SOCHDB_ENGINE_COMMON_RANDOM_ID_H_
#define SOCHDB_ENGINE_COMMON_RANDOM_ID_H_

#include <cstdint>
#include <string>

namespace sochdb {

// 64 random bits.
uint64_t RandomUint64();

// A random UUID, version 4 (RFC 4122 4.4): 36 characters, lower-case hex, hyphenated 8-4-4-4-12,
// with the version nibble 4 and the variant bits 10.
std::string NewUuidV4();

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_RANDOM_ID_H_
