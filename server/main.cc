// sochdb-grpc: entry point. Parses flags, environment and config file, then runs the server.
#include <limits.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "server/config.h"
#include "server/server_main.h"

namespace {

// glibc reads its malloc tunables once, at process start, from GLIBC_TUNABLES. With
// glibc.malloc.hugetlb=1 malloc marks the memory it maps for transparent huge pages, which on
// hosts whose THP mode is "madvise" (Debian's default) is the only way the vector indexes (one
// large allocation per FAISS array) get them. Measured with 1M x 128 vectors: restart from the
// snapshot 11.9 s -> 3.6 s, most of the difference being page faults on 4 KiB pages. So the
// process re-executes itself once with the tunable added, keeping its pid, arguments and
// descriptors; setting glibc.malloc.hugetlb yourself (to 0 to opt out) skips this.
void ReexecWithHugePageMalloc(char** argv) {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.hugetlb") != nullptr) return;
  std::string value = "glibc.malloc.hugetlb=1";
  if (tunables != nullptr && tunables[0] != '\0') value = std::string(tunables) + ":" + value;
  // The binary's own path rather than /proc/self/exe, so the process keeps its name in ps/top.
  char self[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) return;
  self[length] = '\0';
  if (::setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  ::execv(self, argv);
  // exec failed (the binary was replaced, say): run on with the default allocator settings.
  if (tunables == nullptr) {
    ::unsetenv("GLIBC_TUNABLES");
  } else {
    ::setenv("GLIBC_TUNABLES", tunables, 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ReexecWithHugePageMalloc(argv);
  // Before any thread exists, so only the signal-waiting thread ever receives these.
  sochdb::server::BlockShutdownSignals();
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detector on: every
  // lock acquisition updates a global lock graph (GraphCycles showed up in search profiles).
  // The detector stays on in the test binaries, where lock-order bugs are meant to surface.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::vector<std::string> args(argv + 1, argv + argc);
  sochdb::server::ConfigResult parsed =
      sochdb::server::ParseServerConfig(args, sochdb::server::ProcessEnvironment());
  if (parsed.exit_code.has_value()) return *parsed.exit_code;
  return sochdb::server::RunServer(parsed.config);
}
