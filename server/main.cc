// sochdb-grpc: entry point. Parses flags, environment and config file, then runs the server.

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "server/config.h"
#include "server/huge_pages.h"
#include "server/server_main.h"

int main(int argc, char** argv) {
  // Huge pages for the vector indexes (see huge_pages.h). Measured with 1M x 128 vectors:
  // restart from the snapshot 11.9 s -> 0.9-3.1 s, most of the difference page faults on 4 KiB
  // pages. GLIBC_TUNABLES=glibc.malloc.hugetlb=0 opts out.
  sochdb::server::ReexecWithHugePageMalloc(argv);
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
