// Where the server looks for the BPE rank tables when --tokenizer-dir is not given, in order:
//   1. <directory of the executable>/tokenizers   (what `tools/dev.sh build DIR` lays out)
//   2. the Bazel runfiles: $RUNFILES_DIR, $TEST_SRCDIR, then <executable>.runfiles, each with
//      sochdb_grpc/tools/tokenizer/ranks          (bazel run, bazel test, bazel-bin/...)
//   3. /usr/share/sochdb/tokenizers               (a system install; the container image)
// The first that holds both files wins. A --tokenizer-dir given is used alone: a wrong one is
// reported, never silently replaced by a default.
#ifndef SOCHDB_SERVER_TOKENIZER_DIR_H_
#define SOCHDB_SERVER_TOKENIZER_DIR_H_

#include <string>
#include <vector>

#include "server/config.h"

namespace sochdb::server {

inline constexpr char kSystemTokenizerDir[] = "/usr/share/sochdb/tokenizers";

// The directories searched, in order (just --tokenizer-dir when it is given). `executable` is
// the server binary's path ("" when unknown: its entries are left out).
std::vector<std::string> TokenizerDirCandidates(const ServerConfig& config, const EnvLookup& env,
                                                const std::string& executable);

// The first candidate holding cl100k_base.tiktoken and o200k_base.tiktoken; the first candidate
// when none does (so the load error names where the tables were expected).
std::string ResolveTokenizerDir(const std::vector<std::string>& candidates);

// The running binary's path (/proc/self/exe), "" when it cannot be read.
std::string ExecutablePath();

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_TOKENIZER_DIR_H_
