#include "engine/context/tokenizer/bpe_tokenizer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/auth/auth.h"
#include "engine/common/absl_view.h"
#include "engine/common/file_system.h"
#include "engine/common/status_macros.h"
#include "engine/context/tokenizer/bpe_merge.h"

namespace sochdb::context {
namespace {

// What differs between the encodings. sha256: of the file OpenAI publishes (tiktoken_ext/
// openai_public.py's expected_hash); tools/tokenizer/fetch_ranks.sh checks the same digests.
struct EncodingSpec {
  absl::string_view name;
  absl::string_view sha256;
  PieceEndFunction piece_end;
};

const EncodingSpec& SpecOf(Encoding encoding) {
  static constexpr EncodingSpec kCl100k = {
      "cl100k_base", "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
      &Cl100kPieceEnd};
  static constexpr EncodingSpec kO200k = {
      "o200k_base", "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
      &O200kPieceEnd};
  return encoding == Encoding::kO200kBase ? kO200k : kCl100k;
}

}  // namespace

absl::string_view EncodingName(Encoding encoding) { return SpecOf(encoding).name; }

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Load(Encoding encoding,
                                                                 const std::string& rank_file) {
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file,
                          FileSystem::Default()->MapFile(rank_file));
  const std::string digest = auth::Sha256Hex(file->bytes());
  SOCHDB_ASSIGN_OR_RETURN(RankTable ranks, RankTable::Parse(AbslView(file->bytes()), rank_file));
  if (digest != SpecOf(encoding).sha256) {
    return absl::DataLossError(absl::StrCat(
        rank_file, " is not the published ", EncodingName(encoding), " table (sha256 ", digest,
        ", want ", SpecOf(encoding).sha256, "); fetch it again with "
        "tools/tokenizer/fetch_ranks.sh"));
  }
  return std::unique_ptr<BpeTokenizer>(new BpeTokenizer(encoding, std::move(ranks)));
}

BpeTokenizer::BpeTokenizer(Encoding encoding, RankTable ranks)
    : encoding_(encoding), piece_end_(SpecOf(encoding).piece_end), ranks_(std::move(ranks)) {}

size_t BpeTokenizer::CountPiece(absl::string_view piece, std::vector<uint32_t>* bounds) const {
  if (ranks_.Find(piece) != kNoRank) return 1;  // as in Encode
  BytePairMerge(ranks_, piece, bounds);
  return bounds->size() - 1;
}

size_t BpeTokenizer::Count(absl::string_view text) const {
  size_t count = 0;
  std::vector<uint32_t> bounds;
  ForEachPiece(piece_end_, text,
               [&](absl::string_view piece) { count += CountPiece(piece, &bounds); });
  return count;
}

size_t BpeTokenizer::Count(absl::string_view text, CountMemo* memo) const {
  size_t count = 0;
  std::vector<uint32_t> bounds;
  std::vector<absl::string_view> pieces;  // of the line being read
  size_t line_start = 0;
  std::string key;
  const auto end_line = [&](size_t end) {
    key.assign(text.data() + line_start, end - line_start);
    key.push_back(end < text.size() ? text[end] : '\0');
    key.push_back(end < text.size() ? 1 : 0);
    auto [it, added] = memo->lines_.try_emplace(key, 0);
    if (added) {
      for (absl::string_view piece : pieces) it->second += CountPiece(piece, &bounds);
    }
    count += it->second;
    pieces.clear();
    line_start = end;
  };
  ForEachPiece(piece_end_, text, [&](absl::string_view piece) {
    pieces.push_back(piece);
    if (piece.back() == '\n') end_line(static_cast<size_t>(piece.end() - text.data()));
  });
  if (line_start < text.size()) end_line(text.size());
  return count;
}

std::vector<size_t> BpeTokenizer::TokenEnds(absl::string_view text) const {
  std::vector<size_t> ends;
  std::vector<uint32_t> bounds;
  ForEachPiece(piece_end_, text, [&](absl::string_view piece) {
    const size_t start = static_cast<size_t>(piece.data() - text.data());
    if (ranks_.Find(piece) != kNoRank) {  // as in Encode
      ends.push_back(start + piece.size());
      return;
    }
    BytePairMerge(ranks_, piece, &bounds);
    for (size_t i = 1; i < bounds.size(); ++i) ends.push_back(start + bounds[i]);
  });
  return ends;
}

std::vector<uint32_t> BpeTokenizer::Encode(absl::string_view text) const {
  std::vector<uint32_t> tokens;
  std::vector<uint32_t> bounds;
  ForEachPiece(piece_end_, text, [&](absl::string_view piece) {
    // A piece that is itself a token is that token, whatever the merge would make of it.
    const uint32_t whole = ranks_.Find(piece);
    if (whole != kNoRank) {
      tokens.push_back(whole);
      return;
    }
    BytePairMerge(ranks_, piece, &bounds);
    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
      tokens.push_back(ranks_.Find(piece.substr(bounds[i], bounds[i + 1] - bounds[i])));
    }
  });
  return tokens;
}

}  // namespace sochdb::context
