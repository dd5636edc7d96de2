// Transparent huge pages for the process's large allocations. An index's vector rows and
// graph links are read at random addresses; on 4 KiB pages nearly every such read misses the
// TLB as well as the cache (a 1M x 128 index spans ~200,000 pages), and loading or growing it
// takes a page fault per 4 KiB. glibc's malloc asks for huge pages on the memory it maps when
// its tunable glibc.malloc.hugetlb is 1, which on hosts whose THP mode is "madvise" (Debian's
// default) is the only way one-allocation-per-array libraries such as FAISS get them. The
// tunable is read once, at process start, from GLIBC_TUNABLES: hence a re-exec. Re-executing
// the binary is the process's policy, so it lives with main(), not in the engine.
#ifndef SOCHDB_SERVER_HUGE_PAGES_H_
#define SOCHDB_SERVER_HUGE_PAGES_H_

#include <optional>
#include <string>

namespace sochdb::server {

// The GLIBC_TUNABLES value that adds glibc.malloc.hugetlb=1 to `current` (the variable's
// value, or nullptr when unset); nullopt when `current` sets glibc.malloc.hugetlb already
// (whatever its value: 0 is how an operator opts out).
std::optional<std::string> TunablesWithHugePageMalloc(const char* current);

// Whether `tunables` (GLIBC_TUNABLES as this process sees it) turns huge-page malloc on: its
// last glibc.malloc.hugetlb setting is not 0.
bool HugePageMallocEnabled(const char* tunables);

// Called first thing in main(): unless GLIBC_TUNABLES sets glibc.malloc.hugetlb already,
// re-executes the binary once with it set to 1, keeping the pid, arguments and descriptors.
// Returns only when no re-exec happened (already set, or exec failed: the process then runs
// on with its environment as it was).
void ReexecWithHugePageMalloc(char** argv);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_HUGE_PAGES_H_
