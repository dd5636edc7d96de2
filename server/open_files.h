// The process's open-file limit, and the share of it the gRPC port may use. Every connection
// holds a descriptor, and so do LevelDB's log, manifest, lock and tables (its table cache keeps
// up to 1,000 files open), the vector indexes' snapshot files and the metrics endpoint. With the
// usual soft limit of 1,024, a few thousand idle connections took every descriptor, LevelDB's
// next file failed with EMFILE and the store refused all writes. So the server raises the soft
// limit to the hard one at start, before the store opens (LevelDB sizes its own file budget from
// it), and caps connections below it.
#ifndef SOCHDB_SERVER_OPEN_FILES_H_
#define SOCHDB_SERVER_OPEN_FILES_H_

#include <cstddef>
#include <cstdint>

namespace sochdb::server {

struct OpenFileLimit {
  uint64_t before = 0;  // the soft limit the process started with
  uint64_t now = 0;     // the soft limit in effect
};

// Raises the soft RLIMIT_NOFILE to the hard limit (no privilege needed), or to the kernel's
// per-process maximum (/proc/sys/fs/nr_open) when the hard limit is unlimited. Keeps the old
// limit if the kernel refuses; never lowers it.
OpenFileLimit RaiseOpenFileLimit();

// Descriptors kept for everything but connections: a quarter of the limit, at least 1,088
// (LevelDB's 1,000 table files plus its own and the server's), but never more than half.
size_t ReservedDescriptors(uint64_t open_file_limit);
// The connection cap when --max-connections is 0: the limit minus ReservedDescriptors.
size_t DefaultMaxConnections(uint64_t open_file_limit);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_OPEN_FILES_H_
