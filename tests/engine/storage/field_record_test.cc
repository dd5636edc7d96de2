// Tests for the definition-record format (field_record.h): the exact text the writer produces
// (definitions already on disk depend on it), round trips of every field kind, and DATA_LOSS
// naming the record and the field for each way a record can be unreadable.
#include "engine/storage/field_record.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

namespace sochdb::storage {
namespace {

using namespace std::string_literals;

std::string DamageOf(const absl::Status& status) {
  CHECK(status.code() == absl::StatusCode::kDataLoss);
  return std::string(status.message());
}

TEST_CASE("the writer's text is fixed: numbers, signed numbers, hex bytes, map entries",
          "[field_record]") {
  FieldRecordWriter out;
  out.Number("format", 1)
      .Signed("code", -7)
      .Number("big", 18446744073709551615ull)
      .Bytes("text", "ab\0"s)
      .Bytes("none", "")
      .Map("meta", {{"k", "v"}, {"", "x"}});
  CHECK(std::move(out).Build() ==
        "format=1 code=-7 big=18446744073709551615 text=616200 none= meta.=78 meta.6b=76");
}

TEST_CASE("every field kind reads back, in any order", "[field_record]") {
  absl::StatusOr<FieldRecord> in = FieldRecord::Parse(
      "meta.6b=76 code=-7  text=616200 n=4294967295 meta.=78 format=1", "test record");
  REQUIRE(in.ok());
  uint64_t format = 0;
  uint32_t n = 0;
  int32_t code = 0;
  std::string text;
  std::map<std::string, std::string> meta;
  CHECK(in->Number("format", &format, 1, 1).ok());
  CHECK(format == 1);
  CHECK(in->Number32("n", &n).ok());
  CHECK(n == 4294967295u);
  CHECK(in->Signed32("code", &code).ok());
  CHECK(code == -7);
  CHECK(in->Bytes("text", &text).ok());
  CHECK(text == "ab\0"s);
  CHECK(in->Map("meta", &meta).ok());
  CHECK(meta == std::map<std::string, std::string>{{"k", "v"}, {"", "x"}});
  CHECK(in->Map("other", &meta).ok());
  CHECK(meta.empty());
}

TEST_CASE("unreadable records and fields are DATA_LOSS naming them", "[field_record]") {
  CHECK(DamageOf(FieldRecord::Parse("a=1 b", "rec").status()) == "rec holds a field without '='");
  CHECK(DamageOf(FieldRecord::Parse("a=1 a=1", "rec").status()) == "rec holds the field a twice");
  absl::StatusOr<FieldRecord> in = FieldRecord::Parse(
      "big=4294967296 x=1x hex=0g odd=abc neg=-1 meta.zz=00 s=2147483648", "rec");
  REQUIRE(in.ok());
  uint64_t wide = 0;
  uint32_t narrow = 0;
  int32_t signed_value = 0;
  std::string bytes;
  std::map<std::string, std::string> map;
  CHECK(DamageOf(in->Number("missing", &wide)) == "rec lacks the field missing");
  CHECK(DamageOf(in->Number32("big", &narrow)) == "rec holds a malformed field big");
  CHECK(DamageOf(in->Number("x", &wide)) == "rec holds a malformed field x");
  CHECK(DamageOf(in->Number("neg", &wide)) == "rec holds a malformed field neg");
  CHECK(DamageOf(in->Number("big", &wide, 0, 10)) == "rec holds a malformed field big");
  CHECK(DamageOf(in->Signed32("s", &signed_value)) == "rec holds a malformed field s");
  CHECK(DamageOf(in->Bytes("hex", &bytes)) == "rec holds a malformed field hex");
  CHECK(DamageOf(in->Bytes("odd", &bytes)) == "rec holds a malformed field odd");
  CHECK(DamageOf(in->Map("meta", &map)) == "rec holds a malformed field meta.zz");
  CHECK(DamageOf(in->Damaged("has an unknown format")) == "rec has an unknown format");
}

}  // namespace
}  // namespace sochdb::storage
