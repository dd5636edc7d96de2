#include "engine/common/huge_pages.h"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sochdb {

std::optional<std::string> TunablesWithHugePageMalloc(const char* current) {
  const std::string setting = "glibc.malloc.hugetlb=1";
  if (current == nullptr || current[0] == '\0') return setting;
  if (std::strstr(current, "glibc.malloc.hugetlb") != nullptr) return std::nullopt;
  return std::string(current) + ":" + setting;
}

bool HugePageMallocEnabled(const char* tunables) {
  if (tunables == nullptr) return false;
  bool enabled = false;
  for (absl::string_view setting : absl::StrSplit(tunables, ':')) {
    if (absl::ConsumePrefix(&setting, "glibc.malloc.hugetlb=")) enabled = setting != "0";
  }
  return enabled;
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

}  // namespace sochdb
