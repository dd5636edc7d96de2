// The process's open-file limit, and the share of it the gRPC port may use. Every connection
// holds a descriptor, and so do LevelDB's log, manifest, lock and tables (its table cache keeps
// up to 1,000 files open), the vector indexes' snapshot files and the metrics endpoint. With the
// usual soft limit of 1,024, a few thousand idle connections would take every descriptor and
// LevelDB's next file would fail with EMFILE. So the server raises the soft
// limit to the hard one at start, before the store opens (LevelDB sizes its own file budget from
// it), and caps connections below it.
#ifndef SOCHDB_SERVER_OPEN_FILES_H_
#define SOCHDB_SERVER_OPEN_FILES_H_

#include <sys/resource.h>

#include <cstddef>
#include <cstdint>

namespace sochdb::server {

// The soft limit assumed when the kernel will not say (getrlimit failed): Linux's usual default,
// and the smallest a server meets in practice. Deriving the connection cap from 0 instead would
// refuse every connection.
inline constexpr uint64_t kAssumedOpenFileLimit = 1024;

struct OpenFileLimit {
  uint64_t before = 0;  // the soft limit the process started with
  uint64_t now = 0;     // the soft limit in effect
  bool known = true;    // false: getrlimit failed and both are kAssumedOpenFileLimit
};

// The two system calls RaiseOpenFileLimit makes on RLIMIT_NOFILE: its argument, the seam
// through which a test makes them fail.
struct RlimitCalls {
  int (*get)(rlimit* limit);
  int (*set)(const rlimit* limit);
};
RlimitCalls SystemRlimitCalls();

// Raises the soft RLIMIT_NOFILE to the hard limit (no privilege needed), or to the kernel's
// per-process maximum (/proc/sys/fs/nr_open) when the hard limit is unlimited. Keeps the old
// limit if the kernel refuses; never lowers it. When the limit cannot be read, assumes
// kAssumedOpenFileLimit (`known` false; the caller logs it).
OpenFileLimit RaiseOpenFileLimit(RlimitCalls calls = SystemRlimitCalls());

// Descriptors kept for everything but connections: a quarter of the limit, at least 1,088
// (LevelDB's 1,000 table files plus its own and the server's), but never more than half.
size_t ReservedDescriptors(uint64_t open_file_limit);
// The connection cap when --max-connections is 0: the limit minus ReservedDescriptors.
size_t DefaultMaxConnections(uint64_t open_file_limit);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_OPEN_FILES_H_
