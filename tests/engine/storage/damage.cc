// Implementation of damage.h.
#include "tests/engine/storage/damage.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace sochdb::storage::testing {

std::string NumberedValue(int i) {
  char prefix[32];
  std::snprintf(prefix, sizeof(prefix), "value-%03d-", i);
  std::string value = prefix;
  uint64_t state = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(i + 1);
  for (int b = 0; b < 300; ++b) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    value.push_back(static_cast<char>(state >> 56));
  }
  return value;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::map<std::string, std::string> DirectoryContents(const std::string& dir) {
  std::map<std::string, std::string> contents;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.is_regular_file()) {
      contents[entry.path().filename().string()] = ReadFile(entry.path().string());
    }
  }
  return contents;
}

std::vector<std::string> FilesEndingWith(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> names;
  for (const auto& [name, contents] : DirectoryContents(dir)) {
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(name);
    }
  }
  return names;  // the map kept them sorted
}

std::string FileNamed(const std::string& dir, const std::string& suffix) {
  const std::vector<std::string> names = FilesEndingWith(dir, suffix);
  return names.empty() ? std::string() : dir + "/" + names.front();
}

bool FlipByteAfter(const std::string& path, const std::string& marker) {
  std::string contents = ReadFile(path);
  const size_t at = contents.find(marker);
  if (at == std::string::npos || at + marker.size() + 5 >= contents.size()) return false;
  contents[at + marker.size() + 5] = static_cast<char>(~contents[at + marker.size() + 5]);
  WriteFile(path, contents);
  return true;
}

void FlipByteAt(const std::string& path, uint64_t offset) {
  std::string contents = ReadFile(path);
  if (offset >= contents.size()) throw std::runtime_error("offset past the end of " + path);
  contents[offset] = static_cast<char>(~contents[offset]);
  WriteFile(path, contents);
}

void TruncateFile(const std::string& path, uint64_t size) {
  std::filesystem::resize_file(path, size);
}

}  // namespace sochdb::storage::testing
