// Tests of the GLIBC_TUNABLES value the huge-page re-exec sets (the re-exec itself is checked
// through the real server: tests/e2e reads the running server's environment).
#include <catch2/catch.hpp>

#include "server/huge_pages.h"

namespace sochdb::server {
namespace {

TEST_CASE("the huge-page malloc tunable is added to what is there, never over a choice") {
  CHECK(TunablesWithHugePageMalloc(nullptr) == "glibc.malloc.hugetlb=1");
  CHECK(TunablesWithHugePageMalloc("") == "glibc.malloc.hugetlb=1");
  CHECK(TunablesWithHugePageMalloc("glibc.malloc.arena_max=2") ==
        "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
  // Set either way by the operator (0 opts out): left alone, and no re-exec.
  CHECK_FALSE(TunablesWithHugePageMalloc("glibc.malloc.hugetlb=0").has_value());
  CHECK_FALSE(TunablesWithHugePageMalloc("glibc.malloc.hugetlb=1").has_value());
  CHECK_FALSE(
      TunablesWithHugePageMalloc("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0").has_value());
}

TEST_CASE("huge-page malloc is on when the last hugetlb setting is not 0") {
  CHECK_FALSE(HugePageMallocEnabled(nullptr));
  CHECK_FALSE(HugePageMallocEnabled(""));
  CHECK_FALSE(HugePageMallocEnabled("glibc.malloc.arena_max=2"));
  CHECK_FALSE(HugePageMallocEnabled("glibc.malloc.hugetlb=0"));
  CHECK(HugePageMallocEnabled("glibc.malloc.hugetlb=1"));
  CHECK(HugePageMallocEnabled("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"));
  CHECK(HugePageMallocEnabled("glibc.malloc.hugetlb=2"));  // 2: hugetlbfs pages, also on
  CHECK_FALSE(HugePageMallocEnabled("glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0"));
}

}  // namespace
}  // namespace sochdb::server
