#include "engine/common/cpu.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/common/absl_view.h"

namespace sochdb {
namespace {

// A small file's contents; "" when it cannot be read.
std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// `path` ("/a/b") and its ancestors ("/a", "/"), deepest first.
std::vector<std::string> SelfAndAncestors(std::string path) {
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::vector<std::string> paths;
  for (;;) {
    paths.push_back(path);
    if (path == "/") return paths;
    const size_t slash = path.rfind('/');
    path.resize(slash == 0 ? 1 : slash);
  }
}

// root + path, without a doubled slash.
std::string Under(const std::string& root, const std::string& path) {
  return path == "/" ? root : root + path;
}

int AffinityCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

namespace cpu_internal {

double QuotaFromCpuMax(std::string_view cpu_max) {
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(AbslView(cpu_max)), ' ', absl::SkipEmpty());
  double quota = 0, period = 0;
  if (fields.size() != 2 || !absl::SimpleAtod(fields[0], &quota) ||
      !absl::SimpleAtod(fields[1], &period) || quota <= 0 || period <= 0) {
    return 0;  // "max" (unlimited) or unreadable
  }
  return quota / period;
}

double QuotaFromCfs(std::string_view quota_us, std::string_view period_us) {
  double quota = 0, period = 0;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(AbslView(quota_us)), &quota) ||
      !absl::SimpleAtod(absl::StripAsciiWhitespace(AbslView(period_us)), &period) || quota <= 0 ||
      period <= 0) {
    return 0;  // -1 (unlimited) or unreadable
  }
  return quota / period;
}

double CgroupCpuQuota(const std::string& root, std::string_view self_cgroup) {
  double tightest = 0;
  auto consider = [&tightest](double quota) {
    if (quota > 0 && (tightest == 0 || quota < tightest)) tightest = quota;
  };
  for (absl::string_view line : absl::StrSplit(AbslView(self_cgroup), '\n', absl::SkipEmpty())) {
    // hierarchy-id:controllers:path (the path may itself contain ':').
    const std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    const std::string path(fields[2]);
    if (fields[0] == "0" && fields[1].empty()) {  // cgroup v2
      for (const std::string& dir : SelfAndAncestors(path)) {
        consider(QuotaFromCpuMax(ReadSmallFile(Under(root, dir) + "/cpu.max")));
      }
      continue;
    }
    const std::vector<absl::string_view> controllers = absl::StrSplit(fields[1], ',');
    if (std::find(controllers.begin(), controllers.end(), "cpu") == controllers.end()) continue;
    for (const char* mount : {"/cpu", "/cpu,cpuacct", "/cpuacct,cpu"}) {
      const std::string base = root + mount;
      for (const std::string& dir : SelfAndAncestors(path)) {
        const std::string at = Under(base, dir);
        consider(QuotaFromCfs(ReadSmallFile(at + "/cpu.cfs_quota_us"),
                              ReadSmallFile(at + "/cpu.cfs_period_us")));
      }
    }
  }
  return tightest;
}

}  // namespace cpu_internal

int UsableCores() {
  const int affinity = AffinityCores();
  const double quota =
      cpu_internal::CgroupCpuQuota("/sys/fs/cgroup", ReadSmallFile("/proc/self/cgroup"));
  if (quota <= 0) return affinity;
  return std::max(1, std::min(affinity, static_cast<int>(std::ceil(quota))));
}

}  // namespace sochdb
