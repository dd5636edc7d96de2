#include "server/tokenizer_dir.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

namespace sochdb::server {
namespace {

constexpr char kRunfilesRanks[] = "sochdb_grpc/tools/tokenizer/ranks";

bool HasTables(const std::string& dir) {
  std::error_code error;
  for (const char* name : {"cl100k_base.tiktoken", "o200k_base.tiktoken"}) {
    if (!std::filesystem::is_regular_file(std::filesystem::path(dir) / name, error)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> TokenizerDirCandidates(const ServerConfig& config, const EnvLookup& env,
                                                const std::string& executable) {
  if (!config.tokenizer_dir.empty()) return {config.tokenizer_dir};
  std::vector<std::string> dirs;
  const std::filesystem::path exe(executable);
  if (!executable.empty()) dirs.push_back((exe.parent_path() / "tokenizers").string());
  for (const char* variable : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    const std::optional<std::string> root = env(variable);
    if (root.has_value() && !root->empty()) {
      dirs.push_back((std::filesystem::path(*root) / kRunfilesRanks).string());
    }
  }
  if (!executable.empty()) {
    dirs.push_back((std::filesystem::path(executable + ".runfiles") / kRunfilesRanks).string());
  }
  dirs.push_back(kSystemTokenizerDir);
  return dirs;
}

std::string ResolveTokenizerDir(const std::vector<std::string>& candidates) {
  for (const std::string& dir : candidates) {
    if (HasTables(dir)) return dir;
  }
  return candidates.empty() ? std::string() : candidates.front();
}

std::string ExecutablePath() {
  std::error_code error;
  const std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : path.string();
}

}  // namespace sochdb::server
