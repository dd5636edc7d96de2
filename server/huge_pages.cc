#include "server/huge_pages.h"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sochdb::server {

namespace {

// The value of the last glibc.malloc.hugetlb setting in `tunables`, or nullopt when none.
std::optional<absl::string_view> HugetlbSetting(const char* tunables) {
  std::optional<absl::string_view> value;
  if (tunables == nullptr) return value;
  for (absl::string_view setting : absl::StrSplit(tunables, ':')) {
    if (absl::ConsumePrefix(&setting, "glibc.malloc.hugetlb=")) value = setting;
  }
  return value;
}

}  // namespace

std::optional<std::string> TunablesWithHugePageMalloc(const char* current) {
  const std::string setting = "glibc.malloc.hugetlb=1";
  if (current == nullptr || current[0] == '\0') return setting;
  if (HugetlbSetting(current).has_value()) return std::nullopt;
  return std::string(current) + ":" + setting;
}

bool HugePageMallocEnabled(const char* tunables) {
  const std::optional<absl::string_view> value = HugetlbSetting(tunables);
  return value.has_value() && *value != "0";
}

void ReexecWithHugePageMalloc(char** argv) {
  const char* current = std::getenv("GLIBC_TUNABLES");
  const std::optional<std::string> value = TunablesWithHugePageMalloc(current);
  if (!value.has_value()) return;
  const std::optional<std::string> previous =
      current != nullptr ? std::optional<std::string>(current) : std::nullopt;
  // The binary's own path rather than /proc/self/exe, so the process keeps its name in ps/top.
  char self[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) return;
  self[length] = '\0';
  if (::setenv("GLIBC_TUNABLES", value->c_str(), 1) != 0) return;
  ::execv(self, argv);
  // exec failed (the binary was replaced, say): run on with the environment as it was.
  if (previous.has_value()) {
    ::setenv("GLIBC_TUNABLES", previous->c_str(), 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
}

}  // namespace sochdb::server
