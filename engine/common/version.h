// The release of sochdb-grpc and of the sochdb.v1 protocol it serves: what --version prints, what
// the metrics' build-info gauge and the start-up line carry, and what the vector service's
// GetStats answers. Here, below every layer, so a service reads it without linking the server's
// flag parsing.
#ifndef SOCHDB_ENGINE_COMMON_VERSION_H_
#define SOCHDB_ENGINE_COMMON_VERSION_H_

namespace sochdb {

inline constexpr char kVersion[] = "0.1.0";
inline constexpr char kProtocolVersion[] = "2.1.0";  // the sochdb.v1 protocol release served

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_VERSION_H_
