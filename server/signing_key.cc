#include "server/signing_key.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace sochdb::server {

absl::StatusOr<retrieval::TokenSigner> LoadRetrievalSigner(const std::string& path) {
  if (path.empty()) {
    spdlog::warn("no --retrieval-signing-key-file: retrieval v2 tokens are signed with a random "
                 "key for this process only and stop verifying at a restart");
    return retrieval::TokenSigner::Random();
  }
  std::ifstream in(path, std::ios::binary);
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read --retrieval-signing-key-file ",
                                                   path));
  }
  if (!key.empty() && key.back() == '\n') key.pop_back();
  absl::StatusOr<retrieval::TokenSigner> signer = retrieval::TokenSigner::Create(std::move(key));
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--retrieval-signing-key-file ", path, ": ", signer.status().message()));
  }
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn("--retrieval-signing-key-file {} may be read by its group or others (mode {:o}); "
                 "anyone who reads it can mint retrieval tokens: chmod 600 it",
                 path, st.st_mode & 0777);
  }
  return signer;
}

}  // namespace sochdb::server
