// CPU time of a process, for the benchmarks' CPU-per-operation figures: on a shared VM whose
// speed drifts, CPU time per operation is steadier than operations per second, and it tells
// what a server would serve on cores of its own.
#ifndef SOCHDB_TOOLS_BENCH_PROCESS_CPU_H_
#define SOCHDB_TOOLS_BENCH_PROCESS_CPU_H_

#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace sochdb::bench {

// utime + stime of process `pid` in seconds (fields 14 and 15 of /proc/PID/stat, after the
// parenthesised command name, which may itself hold spaces); -1 if unreadable.
inline double ProcessCpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) return -1;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(name_end + 2), ' ');
  // Field 3 (state) is the first after the name, so field f is fields[f - 3].
  uint64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Getrusage of this process (microsecond resolution): for work done on its own threads.
inline double OwnCpuSeconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace sochdb::bench

#endif  // SOCHDB_TOOLS_BENCH_PROCESS_CPU_H_
