// How many cores the process can really use, for sizing its thread pools.
#ifndef SOCHDB_ENGINE_COMMON_CPU_H_
#define SOCHDB_ENGINE_COMMON_CPU_H_

#include <string>
#include <string_view>

namespace sochdb {

// The cores this process may run on: the CPUs of its affinity mask (taskset, cpusets,
// Kubernetes' static CPU manager), capped by the CPU quota of its cgroup (docker --cpus,
// Kubernetes limits.cpu) rounded up; at least 1. std::thread::hardware_concurrency() counts every
// CPU of the host instead, which in a two-core container on a large machine means dozens of
// pollers and OpenMP threads taking turns on a quota of two.
int UsableCores();

namespace cpu_internal {  // the parts of UsableCores that tests drive with made-up files

// A cgroup v2 cpu.max ("max 100000", "150000 100000"): the quota in cores, 0 when unlimited or
// unreadable.
double QuotaFromCpuMax(std::string_view cpu_max);
// cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us: the quota in cores, 0 when unlimited
// (quota -1) or unreadable.
double QuotaFromCfs(std::string_view quota_us, std::string_view period_us);
// The tightest CPU quota (in cores; 0 = none) on the cgroup paths named by `self_cgroup` (the
// text of /proc/self/cgroup) and their ancestors, reading the cgroup files under `root`
// (/sys/fs/cgroup): cpu.max for v2, cpu.cfs_quota_us / cpu.cfs_period_us under the v1 mount
// of the cpu controller. A path missing under the mount (a container that sees its own cgroup
// as the mount's root) is looked up on the way to the root.
double CgroupCpuQuota(const std::string& root, std::string_view self_cgroup);

}  // namespace cpu_internal
}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_CPU_H_
