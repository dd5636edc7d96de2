// Tests of UsableCores' parts: quota files of cgroup v1 and v2, and the walk from the process's
// cgroup to the root over made-up cgroup trees.
#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "engine/common/cpu.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb {
namespace {

using cpu_internal::CgroupCpuQuota;
using cpu_internal::QuotaFromCfs;
using cpu_internal::QuotaFromCpuMax;

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST_CASE("quota files: cgroup v2 cpu.max and v1 cfs quota/period") {
  CHECK(QuotaFromCpuMax("200000 100000\n") == 2.0);
  CHECK(QuotaFromCpuMax("150000 100000") == 1.5);
  CHECK(QuotaFromCpuMax("max 100000\n") == 0);
  CHECK(QuotaFromCpuMax("") == 0);
  CHECK(QuotaFromCpuMax("garbage") == 0);
  CHECK(QuotaFromCfs("50000\n", "100000\n") == 0.5);
  CHECK(QuotaFromCfs("-1\n", "100000\n") == 0);
  CHECK(QuotaFromCfs("", "") == 0);
}

TEST_CASE("cgroup v2: the tightest quota between the process's cgroup and the root") {
  const std::string root = storage::testing::FreshTestDir("cpu_v2");
  WriteFile(root + "/kubepods/cpu.max", "400000 100000\n");
  WriteFile(root + "/kubepods/pod1/cpu.max", "max 100000\n");
  WriteFile(root + "/kubepods/pod1/app/cpu.max", "250000 100000\n");
  CHECK(CgroupCpuQuota(root, "0::/kubepods/pod1/app\n") == 2.5);
  CHECK(CgroupCpuQuota(root, "0::/kubepods/pod1\n") == 4.0);  // the parent's limit applies
  CHECK(CgroupCpuQuota(root, "0::/elsewhere\n") == 0);
  // A container in its own cgroup namespace sees "/" and its limit at the mount's root.
  const std::string ns = storage::testing::FreshTestDir("cpu_v2_ns");
  WriteFile(ns + "/cpu.max", "100000 100000\n");
  CHECK(CgroupCpuQuota(ns, "0::/\n") == 1.0);
}

TEST_CASE("cgroup v1: the cpu controller's mount, whatever it is named") {
  const std::string root = storage::testing::FreshTestDir("cpu_v1");
  WriteFile(root + "/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  WriteFile(root + "/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  WriteFile(root + "/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  WriteFile(root + "/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  const std::string self = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
  CHECK(CgroupCpuQuota(root, self) == 3.0);
  // A container that sees its own cgroup as the mount's root, while /proc/self/cgroup still
  // names the host's path: the limit is found on the way up.
  const std::string inside = storage::testing::FreshTestDir("cpu_v1_inside");
  WriteFile(inside + "/cpu/cpu.cfs_quota_us", "200000\n");
  WriteFile(inside + "/cpu/cpu.cfs_period_us", "100000\n");
  CHECK(CgroupCpuQuota(inside, "3:cpu:/docker/abc\n") == 2.0);
  // Only the cpu controller's line counts.
  CHECK(CgroupCpuQuota(root, "12:memory:/docker/abc\n") == 0);
}

TEST_CASE("UsableCores follows the affinity mask") {
  const int all = UsableCores();
  CHECK(all >= 1);
  CHECK(all <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  // Narrowed to one CPU (as taskset would), the process may use one core.
  cpu_set_t saved;
  REQUIRE(sched_getaffinity(0, sizeof(saved), &saved) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
  const int narrowed = UsableCores();
  REQUIRE(sched_setaffinity(0, sizeof(saved), &saved) == 0);
  CHECK(narrowed == 1);
}

}  // namespace
}  // namespace sochdb
