// Where encoders put their bytes: a string, a counter (to learn an encoding's size before
// writing its length prefix), or a file (AtomicFileWriter in files.h). Encoding straight into a
// file keeps large images (index snapshots of hundreds of megabytes) from needing a second copy
// in memory.
#ifndef SOCHDB_ENGINE_COMMON_BYTE_SINK_H_
#define SOCHDB_ENGINE_COMMON_BYTE_SINK_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace sochdb {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Takes `bytes` in order. A sink that can fail (a file) latches its first error and reports
  // it where the caller finishes with it; encoders need not check after every piece.
  virtual void Append(std::string_view bytes) = 0;
  // Whether the sink has failed: long encoders may stop early. Never for memory sinks.
  virtual bool failed() const { return false; }
};

// Appends to a string the caller owns.
class StringSink final : public ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  void Append(std::string_view bytes) override { out_->append(bytes); }

 private:
  std::string* out_;
};

// Counts what it is given and keeps nothing.
class CountingSink final : public ByteSink {
 public:
  void Append(std::string_view bytes) override { count_ += bytes.size(); }
  uint64_t count() const { return count_; }

 private:
  uint64_t count_ = 0;
};

// Little-endian fixed-width integers, the byte order of the engine's own file formats.
inline void AppendU32(ByteSink* sink, uint32_t v) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  sink->Append(std::string_view(bytes, sizeof(bytes)));
}
inline void AppendU64(ByteSink* sink, uint64_t v) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  sink->Append(std::string_view(bytes, sizeof(bytes)));
}

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_BYTE_SINK_H_
