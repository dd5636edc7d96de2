// Implementation of files.h on top of a FileSystem.
#include "engine/common/files.h"

#include <zlib.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace sochdb {
namespace {

// Appends smaller than this are gathered into one write; larger ones are written as they come.
constexpr size_t kBufferBytes = size_t{1} << 20;
// AtomicFileWriter writes `path` + this, then renames it over `path`.
constexpr std::string_view kTempSuffix = ".tmp";

}  // namespace

absl::StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(
    FileSystem* files, const std::string& path) {
  std::string temp = path;
  temp.append(kTempSuffix);
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, files->NewWritableFile(temp));
  return std::unique_ptr<AtomicFileWriter>(
      new AtomicFileWriter(files, path, std::move(temp), std::move(file)));
}

AtomicFileWriter::AtomicFileWriter(FileSystem* files, std::string path, std::string temp,
                                   std::unique_ptr<WritableFile> file)
    : files_(files), path_(std::move(path)), temp_(std::move(temp)), file_(std::move(file)) {
  buffer_.reserve(kBufferBytes);
}

AtomicFileWriter::~AtomicFileWriter() {
  file_.reset();
  // A failed removal leaves the .tmp for the start-up sweep (StraySnapshotFiles).
  if (!committed_) files_->RemoveFile(temp_).IgnoreError();
}

void AtomicFileWriter::Append(std::string_view bytes) {
  if (!status_.ok()) return;
  crc_ = Crc32(bytes, crc_);
  size_ += bytes.size();
  if (buffer_.size() + bytes.size() <= kBufferBytes) {
    buffer_.append(bytes);
    return;
  }
  Flush();
  if (bytes.size() < kBufferBytes) {
    buffer_.append(bytes);
  } else if (status_.ok()) {
    status_ = file_->Append(bytes);
  }
}

void AtomicFileWriter::Flush() {
  if (status_.ok() && !buffer_.empty()) status_ = file_->Append(buffer_);
  buffer_.clear();
}

absl::Status AtomicFileWriter::Commit() {
  if (file_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(path_, " was already committed"));
  }
  Flush();
  if (status_.ok()) status_ = file_->Sync();
  const absl::Status closed = file_->Close();
  file_.reset();
  if (status_.ok()) status_ = closed;
  if (status_.ok()) status_ = files_->RenameFile(temp_, path_);
  if (!status_.ok()) return status_;  // the destructor removes the temporary file
  committed_ = true;
  return files_->SyncDir(DirectoryOf(path_));
}

absl::Status WriteFileAtomically(FileSystem* files, const std::string& path,
                                 std::string_view data) {
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> file,
                          AtomicFileWriter::Create(files, path));
  file->Append(data);
  return file->Commit();
}

std::vector<std::string> StraySnapshotFiles(FileSystem* files, const std::string& dir,
                                            std::string_view prefix,
                                            const std::vector<std::string>& keep) {
  constexpr std::string_view kSuffix = ".snap";
  const size_t named = prefix.size() + 16 + kSuffix.size();
  std::vector<std::string> stray;
  absl::StatusOr<std::vector<std::string>> names = files->ListDir(dir);
  if (!names.ok()) return stray;
  for (const std::string& file : *names) {
    const bool temp = file.size() == named + kTempSuffix.size() &&
                      file.compare(named, kTempSuffix.size(), kTempSuffix) == 0;
    if ((file.size() != named && !temp) || file.rfind(prefix, 0) != 0 ||
        file.compare(named - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    std::string path = absl::StrCat(dir, "/", file);
    if (temp || std::find(keep.begin(), keep.end(), path) == keep.end()) {
      stray.push_back(std::move(path));
    }
  }
  return stray;
}

uint32_t Crc32(std::string_view data, uint32_t start) {
  uLong crc = start;
  // zlib takes uInt lengths: feed large inputs in pieces.
  while (!data.empty()) {
    const size_t n = std::min<size_t>(data.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n));
    data.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace sochdb
