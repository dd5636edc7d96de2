// Implementation of errors.h.
#include "engine/storage/errors.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace sochdb::storage {

bool IsOutOfFileDescriptors(const leveldb::Status& status) {
  // strerror(EMFILE) is "Too many open files", strerror(ENFILE) "Too many open files in system".
  return status.IsIOError() && absl::StrContains(status.ToString(), "Too many open files");
}

std::string KindOf(const leveldb::Status& status) {
  if (status.IsIOError()) {
    // PosixEnv formats errno's text; these are the ones operators most need to tell apart.
    const std::string text = status.ToString();
    if (absl::StrContains(text, "No space left on device")) return "disk full";
    if (absl::StrContains(text, "Too many open files")) return "too many open files";
    return "I/O error";
  }
  if (status.IsCorruption()) return "corruption";
  if (status.IsNotFound()) return "missing file";
  if (status.IsNotSupportedError()) return "not supported";
  return "error";
}

absl::Status ErrorReporter::Translate(const leveldb::Status& status, std::string_view what) const {
  if (status.ok()) return absl::OkStatus();
  const absl::string_view doing(what.data(), what.size());
  const std::string text = status.ToString();
  const bool transient = IsOutOfFileDescriptors(status);
  // A key that is merely absent never gets here (callers test IsNotFound with an empty message
  // first); a NotFound status that does is a store file that has gone missing. PosixEnv reads
  // a mapped table with EINVAL past its end: the file is shorter than the MANIFEST records.
  const bool cut_short = status.IsIOError() && absl::StrContains(text, ": Invalid argument");
  const bool damage = status.IsCorruption() || status.IsNotFound() || cut_short;
  if (transient) {
    spdlog::warn("storage at {}: {} failed: {}", path_, what, text);
  } else if (!damage) {
    spdlog::error("storage at {}: {} failed: {}", path_, what, text);
  } else if (const uint64_t left_out = damage_log_.Turn(); left_out != LogLimit::kSkip) {
    spdlog::error("storage at {}: {} failed: {}{}", path_, what, text,
                  LogLimit::LeftOutNote(left_out, "reads of damaged data"));
  }
  if (damage) {
    corruption_errors_.fetch_add(1, std::memory_order_relaxed);
    return absl::DataLossError(absl::StrCat("stored data is damaged (", doing,
                                            status.IsNotFound() ? ": a store file is missing"
                                            : cut_short ? ": a store file is shorter than recorded"
                                                        : "",
                                            "); see the server log"));
  }
  if (transient) {
    return absl::UnavailableError(absl::StrCat(
        "storage is out of file descriptors (too many open files) while ", doing, "; retry later"));
  }
  if (status.IsIOError()) {
    // PosixEnv::LockFile reports "IO error: lock <dir>/LOCK: <reason>".
    if (absl::StartsWith(text, "IO error: lock ")) {
      return absl::UnavailableError(
          absl::StrCat("the store is locked by another process (", doing, ")"));
    }
    return absl::InternalError(
        absl::StrCat("storage ", KindOf(status), " (", doing, "); see the server log"));
  }
  if (status.IsInvalidArgument()) {
    if (absl::StrContains(text, "(create_if_missing is false)")) {
      return absl::FailedPreconditionError(
          absl::StrCat("no store exists (", doing, ") and creating one was not asked for"));
    }
    if (absl::StrContains(text, "(error_if_exists is true)")) {
      return absl::AlreadyExistsError(absl::StrCat("the store already exists (", doing, ")"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("storage refused an argument (", doing, "); see the server log"));
  }
  if (status.IsNotSupportedError()) {
    return absl::UnimplementedError(
        absl::StrCat("storage does not support it (", doing, "); see the server log"));
  }
  return absl::UnknownError(absl::StrCat("storage error (", doing, "); see the server log"));
}

}  // namespace sochdb::storage
