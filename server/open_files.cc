#include "server/open_files.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>

namespace sochdb::server {
namespace {

constexpr uint64_t kMinReserved = 1088;

// The most descriptors the kernel lets one process have.
uint64_t KernelMaximum() {
  std::ifstream in("/proc/sys/fs/nr_open");
  uint64_t maximum = 0;
  if (in >> maximum && maximum > 0) return maximum;
  return 1 << 20;  // Linux's default nr_open
}

}  // namespace

RlimitCalls SystemRlimitCalls() {
  return {[](rlimit* limit) { return getrlimit(RLIMIT_NOFILE, limit); },
          [](const rlimit* limit) { return setrlimit(RLIMIT_NOFILE, limit); }};
}

OpenFileLimit RaiseOpenFileLimit(RlimitCalls calls) {
  rlimit limit{};
  if (calls.get(&limit) != 0) {
    return {kAssumedOpenFileLimit, kAssumedOpenFileLimit, /*known=*/false};
  }
  // An unlimited soft limit is still bounded by the kernel's per-process maximum.
  const uint64_t current =
      limit.rlim_cur == RLIM_INFINITY ? KernelMaximum() : static_cast<uint64_t>(limit.rlim_cur);
  OpenFileLimit result{current, current};
  const uint64_t target =
      limit.rlim_max == RLIM_INFINITY ? KernelMaximum() : static_cast<uint64_t>(limit.rlim_max);
  if (limit.rlim_cur != RLIM_INFINITY && target > current) {
    rlimit raised = limit;
    raised.rlim_cur = target;
    if (calls.set(&raised) == 0) result.now = target;
  }
  return result;
}

size_t ReservedDescriptors(uint64_t open_file_limit) {
  return std::max(open_file_limit / 4, std::min(kMinReserved, open_file_limit / 2));
}

size_t DefaultMaxConnections(uint64_t open_file_limit) {
  return open_file_limit - ReservedDescriptors(open_file_limit);
}

}  // namespace sochdb::server
