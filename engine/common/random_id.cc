#include "engine/common/random_id.h"

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace sochdb {
namespace {

absl::BitGen& Generator() {
  thread_local absl::BitGen generator;  // seeded from the OS on first use in each thread
  return generator;
}

}  // namespace

uint64_t RandomUint64() { return absl::Uniform<uint64_t>(Generator()); }

std::string NewUuidV4() {
  uint64_t high = RandomUint64(), low = RandomUint64();
  high = (high & ~uint64_t{0xf000}) | 0x4000;                    // version 4
  low = (low & ~(uint64_t{0xc} << 60)) | (uint64_t{0x8} << 60);  // variant 10xx
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", high >> 32, (high >> 16) & 0xffff,
                         high & 0xffff, low >> 48, low & 0xffffffffffffull);
}

}  // namespace sochdb
