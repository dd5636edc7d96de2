// Implementation of store_open.h.
#include "engine/storage/store_open.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/common/status_macros.h"
#include "engine/storage/store.h"
#include "leveldb/dumpfile.h"
#include "spdlog/spdlog.h"

namespace sochdb::storage {
namespace {

constexpr char kCurrent[] = "CURRENT";
constexpr char kManifestPrefix[] = "MANIFEST-";
constexpr char kDamagedSuffix[] = ".damaged";

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// "<number><suffix>" with one of LevelDB's numbered-file suffixes in `suffixes`.
bool IsNumberedFile(absl::string_view name, std::initializer_list<absl::string_view> suffixes) {
  for (absl::string_view suffix : suffixes) {
    if (absl::EndsWith(name, suffix) && AllDigits(name.substr(0, name.size() - suffix.size()))) {
      return true;
    }
  }
  return false;
}

bool IsLogFile(absl::string_view name) { return IsNumberedFile(name, {".log"}); }

std::string BaseName(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

std::vector<std::string> Children(leveldb::Env* env, const std::string& path) {
  std::vector<std::string> children;
  if (!env->GetChildren(path, &children).ok()) children.clear();
  return children;
}

// What LevelDB's log reader cannot read of one log.
struct LogDamage {
  uint64_t bytes = 0;
  uint64_t stretches = 0;
};

// Receives leveldb::DumpFile's text for one log and keeps only its "corruption: <n> bytes;
// <status>" lines (each arrives in one Append).
class DropCounter final : public leveldb::WritableFile {
 public:
  leveldb::Status Append(const leveldb::Slice& data) override {
    absl::string_view line(data.data(), data.size());
    if (!absl::ConsumePrefix(&line, "corruption: ")) return leveldb::Status::OK();
    uint64_t bytes = 0;
    const size_t end = line.find(" bytes; ");
    if (end != absl::string_view::npos && absl::SimpleAtoi(line.substr(0, end), &bytes)) {
      damage_.bytes += bytes;
      ++damage_.stretches;
    }
    return leveldb::Status::OK();
  }
  leveldb::Status Close() override { return leveldb::Status::OK(); }
  leveldb::Status Flush() override { return leveldb::Status::OK(); }
  leveldb::Status Sync() override { return leveldb::Status::OK(); }

  const LogDamage& damage() const { return damage_; }

 private:
  LogDamage damage_;
};

// Reads the log `file` with LevelDB's own log reader and counts what it cannot read. Changes
// nothing.
LogDamage MeasureDamage(leveldb::Env* env, const std::string& file) {
  DropCounter counter;
  const leveldb::Status status = leveldb::DumpFile(env, file, &counter);
  if (!status.ok())
    spdlog::warn("cannot read {} to measure its damage: {}", file, status.ToString());
  return counter.damage();
}

// Removes the tables (and logs) a failed DB::Open wrote: replaying an earlier log writes its
// table before a later log's damage fails the open. No MANIFEST names them (the open never
// recorded its edit), so they hold nothing the store needs. `created` comes from the Env, so
// only this process's files are touched (never those of a server that holds the store).
void RemoveCreatedFiles(leveldb::Env* env, const std::string& path,
                        const std::vector<std::string>& created) {
  for (const std::string& file : created) {
    if (!IsNumberedFile(BaseName(file), {".ldb", ".sst", ".log", ".dbtmp"})) continue;
    const leveldb::Status status = env->RemoveFile(file);
    spdlog::info("storage at {}: removing {}, written by the failed open: {}", path, file,
                 status.ToString());
  }
}

absl::Status RefuseLogLoss(const std::string& path, leveldb::Env* env, const LogDrop& first) {
  const LogDamage damage = MeasureDamage(env, first.file);
  const uint64_t bytes = std::max(damage.bytes, first.bytes);
  const uint64_t stretches = std::max<uint64_t>(damage.stretches, 1);
  const std::string log = BaseName(first.file);
  return absl::DataLossError(absl::StrCat(
      "the store at ", path, " has a damaged write-ahead log: ", log, " has ", bytes, " bytes in ",
      stretches, stretches == 1 ? " place" : " places", " that cannot be read (", first.reason,
      "); the writes recorded there would be lost. Nothing was changed. Restore the store from "
      "a backup, or start once with --accept-log-loss to drop the damaged bytes (a copy of the "
      "log is kept as ",
      log, kDamagedSuffix, " and every dropped stretch is logged)"));
}

// What the MANIFEST says the store holds, as leveldb::DumpFile prints it: one Append per edit,
// VersionEdit::DebugString's lines ("  LogNumber: 7", "  AddFile: <level> <number> <size> ...",
// "  RemoveFile: <level> <number>"; keys in them are escaped, so these tokens are LevelDB's own).
class ManifestReader final : public leveldb::WritableFile {
 public:
  leveldb::Status Append(const leveldb::Slice& data) override {
    const absl::string_view text(data.data(), data.size());
    if (absl::StartsWith(text, "corruption: ")) damaged_ = true;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (absl::ConsumePrefix(&line, "  LogNumber: ")) {
        if (!absl::SimpleAtoi(line, &log_number_)) damaged_ = true;
      } else if (absl::ConsumePrefix(&line, "  AddFile: ")) {
        const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
        uint64_t number = 0, size = 0;
        if (fields.size() < 3 || !absl::SimpleAtoi(fields[1], &number) ||
            !absl::SimpleAtoi(fields[2], &size)) {
          damaged_ = true;
        } else {
          tables_[number] = size;
        }
      } else if (absl::ConsumePrefix(&line, "  RemoveFile: ")) {
        const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
        uint64_t number = 0;
        if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &number)) {
          damaged_ = true;
        } else {
          tables_.erase(number);
        }
      }
    }
    return leveldb::Status::OK();
  }
  leveldb::Status Close() override { return leveldb::Status::OK(); }
  leveldb::Status Flush() override { return leveldb::Status::OK(); }
  leveldb::Status Sync() override { return leveldb::Status::OK(); }

  // The MANIFEST could not be read in full; LevelDB's own open will say how.
  bool damaged() const { return damaged_; }
  // The log of the newest writes (0 = none named yet).
  uint64_t log_number() const { return log_number_; }
  // Live table files: number -> size in bytes.
  const std::map<uint64_t, uint64_t>& tables() const { return tables_; }

 private:
  bool damaged_ = false;
  uint64_t log_number_ = 0;
  std::map<uint64_t, uint64_t> tables_;
};

std::string NumberedName(uint64_t number, const char* suffix) {
  char name[40];
  std::snprintf(name, sizeof(name), "%06llu%s", static_cast<unsigned long long>(number), suffix);
  return name;
}

// Each live table must have the size the MANIFEST recorded: LevelDB reads a table's footer at
// that offset, so a table cut short (or grown) answers I/O errors that do not say "damaged",
// and only once the store is open and has recovered its logs. A missing table is left for
// LevelDB, which refuses it before changing anything.
absl::Status CheckTableSizes(const std::string& path, leveldb::Env* env,
                             const std::string& manifest, const ManifestReader& reader) {
  for (const auto& [number, recorded] : reader.tables()) {
    for (const char* suffix : {".ldb", ".sst"}) {
      const std::string name = NumberedName(number, suffix);
      uint64_t size = 0;
      if (!env->GetFileSize(path + "/" + name, &size).ok()) continue;
      if (size == recorded) break;
      return absl::DataLossError(
          absl::StrCat("the store at ", path, " is damaged: the table file ", name, " is ", size,
                       " bytes where ", manifest, " records ", recorded,
                       ". Nothing was changed. Restore the file from a backup"));
    }
  }
  return absl::OkStatus();
}

// LevelDB replays whatever logs it finds, numbered from the one its MANIFEST names; it never
// notices that one is missing. That log exists from before the MANIFEST names it until an edit
// names a later one (it is deleted only after), so if it is gone, the writes since the last
// flush to a table are gone with it: a deleted file, or a MANIFEST cut short before the edit
// that moved past it. Refused (DATA_LOSS) unless `log_loss.accept`.
absl::Status CheckNamedLogPresent(const std::string& path, leveldb::Env* env,
                                  const std::string& manifest, const ManifestReader& reader,
                                  const LogLoss& log_loss) {
  if (reader.log_number() == 0) return absl::OkStatus();
  const std::string log = NumberedName(reader.log_number(), ".log");
  if (env->FileExists(path + "/" + log)) return absl::OkStatus();
  if (log_loss.accept) {
    SOCHDB_RETURN_IF_ERROR(log_loss.BeforeDropping());
    spdlog::warn(
        "storage at {}: accepted loss (--accept-log-loss): the write-ahead log {} named by {} is "
        "missing; the writes it held are lost",
        path, log, manifest);
    return absl::OkStatus();
  }
  return absl::DataLossError(absl::StrCat(
      "the store at ", path, " is missing its write-ahead log ", log, " (", manifest,
      " names it as the log of the newest writes): the writes since the last flush to a table "
      "are lost. Nothing was changed. Restore the file from a backup, or start once with "
      "--accept-log-loss to open the store without them"));
}

// The checks LevelDB does not make before its recovery changes files (see the two above). A
// CURRENT or MANIFEST that cannot be read is left for LevelDB's open to report.
absl::Status CheckManifestFiles(const std::string& path, leveldb::Env* env,
                                const LogLoss& log_loss) {
  std::string current;
  if (!leveldb::ReadFileToString(env, path + "/" + kCurrent, &current).ok()) {
    return absl::OkStatus();
  }
  const std::string manifest(absl::StripTrailingAsciiWhitespace(current));
  if (!absl::StartsWith(manifest, kManifestPrefix)) return absl::OkStatus();
  ManifestReader reader;
  if (!leveldb::DumpFile(env, path + "/" + manifest, &reader).ok() || reader.damaged()) {
    return absl::OkStatus();
  }
  SOCHDB_RETURN_IF_ERROR(CheckTableSizes(path, env, manifest, reader));
  return CheckNamedLogPresent(path, env, manifest, reader, log_loss);
}

absl::Status CopyFile(leveldb::Env* env, const std::string& from, const std::string& to) {
  std::string data;
  leveldb::Status status = leveldb::ReadFileToString(env, from, &data);
  leveldb::WritableFile* raw = nullptr;
  if (status.ok()) status = env->NewWritableFile(to, &raw);
  std::unique_ptr<leveldb::WritableFile> file(raw);
  if (status.ok()) status = file->Append(data);
  if (status.ok()) status = file->Sync();
  if (status.ok()) status = file->Close();
  if (status.ok()) return absl::OkStatus();
  spdlog::error("cannot copy {} to {}: {}", from, to, status.ToString());
  return absl::InternalError(absl::StrCat("cannot keep a copy of the damaged log ", BaseName(from),
                                          "; nothing was dropped; see the server log"));
}

// Keeps a copy of every damaged log before LevelDB drops the damage and deletes the log.
absl::Status KeepDamagedLogs(const std::string& path, leveldb::Env* env) {
  for (const std::string& name : Children(env, path)) {
    if (!IsLogFile(name)) continue;
    const std::string file = path + "/" + name;
    const LogDamage damage = MeasureDamage(env, file);
    if (damage.stretches == 0) continue;
    SOCHDB_RETURN_IF_ERROR(CopyFile(env, file, file + kDamagedSuffix));
    spdlog::warn("storage at {}: {} has {} damaged bytes in {} places; kept a copy as {}{}", path,
                 name, damage.bytes, damage.stretches, name, kDamagedSuffix);
  }
  return absl::OkStatus();
}

}  // namespace

void RecoveryLogger::Logv(const char* format, std::va_list ap) {
  char buffer[512];
  std::va_list copy;
  va_copy(copy, ap);
  const int size = std::vsnprintf(buffer, sizeof(buffer), format, copy);
  va_end(copy);
  if (size < 0) return;
  std::string line;
  if (static_cast<size_t>(size) < sizeof(buffer)) {
    line.assign(buffer, static_cast<size_t>(size));
  } else {
    line.resize(static_cast<size_t>(size) + 1);
    std::vsnprintf(line.data(), line.size(), format, ap);
    line.resize(static_cast<size_t>(size));
  }
  while (!line.empty() && line.back() == '\n') line.pop_back();
  spdlog::debug("leveldb at {}: {}", path_, line);

  // DBImpl::RecoverLogFile: "%s%s: dropping %d bytes; %s", the first %s "(ignoring error) "
  // when paranoid_checks is off.
  constexpr absl::string_view kDropping = ": dropping ";
  constexpr absl::string_view kBytes = " bytes; ";
  const absl::string_view text(line);
  const size_t dropping = text.find(kDropping);
  if (dropping == absl::string_view::npos) return;
  const size_t bytes_end = text.find(kBytes, dropping);
  LogDrop drop;
  if (bytes_end == absl::string_view::npos ||
      !absl::SimpleAtoi(
          text.substr(dropping + kDropping.size(), bytes_end - dropping - kDropping.size()),
          &drop.bytes)) {
    return;
  }
  absl::string_view file = text.substr(0, dropping);
  absl::ConsumePrefix(&file, "(ignoring error) ");
  drop.file = std::string(file);
  drop.reason = std::string(text.substr(bytes_end + kBytes.size()));
  absl::MutexLock lock(&mu_);
  drops_.push_back(std::move(drop));
}

std::vector<LogDrop> RecoveryLogger::TakeDrops() {
  absl::MutexLock lock(&mu_);
  return std::exchange(drops_, {});
}

std::vector<std::string> StoreFileNames(const std::vector<std::string>& names) {
  std::vector<std::string> files;
  for (const std::string& name : names) {
    if (name == kCurrent ||
        (absl::StartsWith(name, kManifestPrefix) &&
         AllDigits(absl::string_view(name).substr(sizeof(kManifestPrefix) - 1))) ||
        IsNumberedFile(name, {".log", ".ldb", ".sst", ".dbtmp"})) {
      files.push_back(name);
    }
  }
  return files;
}

absl::Status CheckRecognisable(const std::string& path, leveldb::Env* env) {
  std::vector<std::string> files = ListStoreFiles(path, env);
  if (files.empty() || std::find(files.begin(), files.end(), kCurrent) != files.end()) {
    return absl::OkStatus();
  }
  std::sort(files.begin(), files.end());
  // NewDB writes MANIFEST-000001, then CURRENT through 000001.dbtmp; the first log, and with it
  // the first byte of data, comes after.
  if (std::all_of(files.begin(), files.end(), [](const std::string& name) {
        return name == "MANIFEST-000001" || name == "000001.dbtmp";
      })) {
    spdlog::warn("storage at {}: a store creation was cut short ({}); creating it again", path,
                 absl::StrJoin(files, ", "));
    return absl::OkStatus();
  }
  // The newest is the highest number (file numbers outgrow their six zero-padded digits, so the
  // names' order is not the numbers').
  std::string newest_manifest = "MANIFEST-<number>";
  uint64_t newest_number = 0;
  for (const std::string& name : files) {
    uint64_t number = 0;
    if (absl::StartsWith(name, kManifestPrefix) &&
        absl::SimpleAtoi(absl::string_view(name).substr(sizeof(kManifestPrefix) - 1), &number) &&
        number >= newest_number) {
      newest_number = number;
      newest_manifest = name;
    }
  }
  constexpr size_t kNamed = 6;
  std::string named =
      absl::StrJoin(files.begin(), files.begin() + std::min(kNamed, files.size()), ", ");
  if (files.size() > kNamed) absl::StrAppend(&named, ", ... (", files.size(), " in all)");
  return absl::FailedPreconditionError(absl::StrCat(
      "the store at ", path, " has no CURRENT file but holds store files (", named,
      "): it was damaged or copied in part. Refusing to open it: LevelDB would create an empty "
      "store over these files and delete them. To repair, restore CURRENT from a backup, or "
      "write the name of the newest MANIFEST file into it (printf '",
      newest_manifest, "\\n' > ", path,
      "/CURRENT); to start with an empty store instead, move the directory away"));
}

absl::Status CheckNotLocked(const std::string& path, leveldb::Env* env,
                            const ErrorReporter& errors) {
  const std::string lock_path = path + "/LOCK";
  // LevelDB creates LOCK at every open, so without one no process has this store open (and
  // probing would add a file to a directory that may not be a store at all).
  if (!env->FileExists(lock_path)) return absl::OkStatus();
  leveldb::FileLock* lock = nullptr;
  const leveldb::Status status = env->LockFile(lock_path, &lock);
  if (!status.ok()) return errors.Translate(status, absl::StrCat("opening the store at ", path));
  return errors.Translate(env->UnlockFile(lock), absl::StrCat("opening the store at ", path));
}

absl::StatusOr<std::unique_ptr<leveldb::DB>> OpenLevelDb(const std::string& path,
                                                         leveldb::Options options,
                                                         const LogLoss& log_loss, LatchingEnv* env,
                                                         RecoveryLogger* logger,
                                                         const ErrorReporter& errors) {
  options.env = env;
  const std::string what = absl::StrCat("opening the store at ", path);
  options.info_log = logger;
  options.paranoid_checks = true;
  SOCHDB_RETURN_IF_ERROR(CheckManifestFiles(path, env, log_loss));
  logger->TakeDrops();
  leveldb::DB* raw = nullptr;
  env->StartRecording();
  leveldb::Status status = leveldb::DB::Open(options, path, &raw);
  const std::vector<std::string> created = env->StopRecording();
  if (status.ok()) return std::unique_ptr<leveldb::DB>(raw);
  RemoveCreatedFiles(env, path, created);
  const std::vector<LogDrop> drops = logger->TakeDrops();
  if (drops.empty() || !status.IsCorruption()) return errors.Translate(status, what);
  if (!log_loss.accept) {
    spdlog::error("storage at {}: {} failed: {}", path, what, status.ToString());
    return RefuseLogLoss(path, env, drops.front());
  }

  SOCHDB_RETURN_IF_ERROR(log_loss.BeforeDropping());
  SOCHDB_RETURN_IF_ERROR(KeepDamagedLogs(path, env));
  options.paranoid_checks = false;
  env->StartRecording();
  status = leveldb::DB::Open(options, path, &raw);
  const std::vector<std::string> created_accepting = env->StopRecording();
  uint64_t dropped = 0;
  for (const LogDrop& drop : logger->TakeDrops()) {
    spdlog::warn("storage at {}: accepted loss (--accept-log-loss): {} bytes of {}: {}", path,
                 drop.bytes, drop.file, drop.reason);
    dropped += drop.bytes;
  }
  if (!status.ok()) {
    RemoveCreatedFiles(env, path, created_accepting);
    return errors.Translate(status, what);
  }
  spdlog::warn("storage at {}: dropped {} damaged bytes of write-ahead log in all", path, dropped);
  delete raw;  // closes; the logs are now tables, so the paranoid open below has none to replay
  options.paranoid_checks = true;
  status = leveldb::DB::Open(options, path, &raw);
  if (!status.ok()) return errors.Translate(status, what);
  return std::unique_ptr<leveldb::DB>(raw);
}

}  // namespace sochdb::storage
