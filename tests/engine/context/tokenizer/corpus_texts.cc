#include "tests/engine/context/tokenizer/corpus_texts.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "utf8proc.h"

namespace sochdb::context::testing {
namespace {

constexpr const char* kSeparator = "\n=====\n";

std::vector<std::string> SplitParts(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(kSeparator, start);
    parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + std::char_traits<char>::length(kSeparator);
  }
  return parts;
}

// Unicode spaces of several kinds: White_Space characters, and U+FEFF and U+200B, which look
// like spaces but are not (JavaScript's \s has U+FEFF; the regex crate's has not).
const std::vector<std::string>& Spaces() {
  static const std::vector<std::string> spaces = {
      " ",  "\t",       "\n",       "\r\n",     "\r",       "\v",
      "\f", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\xA8", "\xE2\x80\x83", "\xC2\x85",
      "\xEF\xBB\xBF", "\xE2\x80\x8B", "\xE1\x9A\x80",
  };
  return spaces;
}

// Ranges the random strings draw characters from: scripts, symbols, marks, digits, emoji.
struct Range {
  uint32_t first;
  uint32_t last;
};
constexpr Range kRanges[] = {
    {0x00C0, 0x024F}, {0x0370, 0x03FF}, {0x0400, 0x04FF}, {0x0590, 0x05FF}, {0x0600, 0x06FF},
    {0x0660, 0x0669}, {0x0900, 0x097F}, {0x0E00, 0x0E7F}, {0x1100, 0x11FF}, {0x0300, 0x036F},
    {0x1AB0, 0x1AFF}, {0x20D0, 0x20FF}, {0x2000, 0x206F}, {0x2100, 0x214F}, {0x2150, 0x218F},
    {0x2190, 0x23FF}, {0x2460, 0x24FF}, {0x3040, 0x30FF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
    {0xFF00, 0xFFEF}, {0x1D400, 0x1D7FF}, {0x1F300, 0x1FAFF}, {0x1F1E6, 0x1F1FF},
    {0x1F3FB, 0x1F3FF}, {0xFE00, 0xFE0F}, {0x200C, 0x200D}, {0xE0020, 0xE007F},
    {0x10400, 0x1044F}, {0x16A0, 0x16FF}, {0x0F00, 0x0FFF}, {0xA000, 0xA48F},
};

// Assigned in utf8proc's Unicode (15.0) and not a surrogate: the characters whose class the
// tokenizer and a reference built on a later Unicode version agree on.
bool IsAssigned(uint32_t c) {
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category != UTF8PROC_CATEGORY_CN && category != UTF8PROC_CATEGORY_CS;
}

class RandomTextMaker {
 public:
  explicit RandomTextMaker(uint64_t seed) : random_(seed) {}

  std::string Make() {
    std::string text;
    const int atoms = Uniform(1, 60);
    for (int i = 0; i < atoms; ++i) AppendAtom(&text);
    return text;
  }

 private:
  int Uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }
  uint32_t UniformCode(uint32_t low, uint32_t high) {
    return std::uniform_int_distribution<uint32_t>(low, high)(random_);
  }

  void AppendWord(std::string* text) {
    const int length = Uniform(1, 12);
    const int style = Uniform(0, 3);  // lower, Upper, UPPER, mIxEd
    for (int i = 0; i < length; ++i) {
      char c = static_cast<char>('a' + Uniform(0, 25));
      if (style == 2 || (style == 1 && i == 0) || (style == 3 && Uniform(0, 1) == 1)) c -= 32;
      text->push_back(c);
    }
  }

  void AppendContraction(std::string* text) {
    static const char* const kTails[] = {"s", "S", "t", "T", "re", "rE", "Re", "RE", "ve",
                                         "VE", "m", "M", "ll", "LL", "lL", "d", "D", "\xC5\xBF",
                                         "x", "", "s's"};
    text->append(Uniform(0, 4) == 0 ? "\xE2\x80\x99" : "'");  // U+2019 is not an apostrophe
    text->append(kTails[Uniform(0, static_cast<int>(std::size(kTails)) - 1)]);
  }

  void AppendFromRanges(std::string* text) {
    const Range& range = kRanges[Uniform(0, static_cast<int>(std::size(kRanges)) - 1)];
    const int count = Uniform(1, 6);
    for (int i = 0; i < count; ++i) {
      const uint32_t c = UniformCode(range.first, range.last);
      if (IsAssigned(c)) AppendUtf8(c, text);
    }
  }

  void AppendAnyAssigned(std::string* text) {
    uint32_t c;
    do {
      c = UniformCode(1, 0x10FFFF);
    } while (!IsAssigned(c));
    AppendUtf8(c, text);
  }

  void AppendAtom(std::string* text) {
    static const char* const kPunctuation[] = {".", ",", "!", "?", "...", "/", "//", "-", "--",
                                               "(", ")", "{}", "\"", "<|endoftext|>", "#", "$",
                                               "=>", "::", "'", "`", "\\", "@", "%", "&&"};
    switch (Uniform(0, 9)) {
      case 0: case 1: AppendWord(text); break;
      case 2: text->append(std::to_string(std::uniform_int_distribution<uint64_t>()(random_) %
                                          (uint64_t{1} << Uniform(1, 40)))); break;
      case 3: AppendContraction(text); break;
      case 4:
        text->append(kPunctuation[Uniform(0, static_cast<int>(std::size(kPunctuation)) - 1)]);
        break;
      case 5: case 6: {
        const int count = Uniform(1, 4);
        for (int i = 0; i < count; ++i) {
          const int kind = Uniform(-3, static_cast<int>(Spaces().size()) - 1);
          text->append(Spaces()[std::max(kind, 0)]);  // a plain space half the time
        }
        break;
      }
      case 7: case 8: AppendFromRanges(text); break;
      default: AppendAnyAssigned(text); break;
    }
  }

  std::mt19937_64 random_;
};

}  // namespace

void AppendUtf8(uint32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::vector<std::string> CorpusFileTexts(const std::string& corpus_dir) {
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir, error)) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> texts;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream contents;
    contents << in.rdbuf();
    texts.push_back(contents.str());
    const std::vector<std::string> parts = SplitParts(contents.str());
    if (parts.size() > 1) texts.insert(texts.end(), parts.begin(), parts.end());
  }
  return texts;
}

std::vector<std::string> WhitespaceTexts() {
  std::vector<std::string> texts;
  const char* const kAround[][2] = {{"a", "b"}, {"", ""}, {"x", ""}, {"", "y"}, {"1", "2"},
                                    {"a", "!"}, {"!", "a"}, {"a", "9"}, {".", "'s"}};
  for (const std::string& space : Spaces()) {
    for (int n : {1, 2, 3, 4, 7, 16, 33, 100, 257, 1000}) {
      std::string run;
      for (int i = 0; i < n; ++i) run += space;
      for (const auto& around : kAround) texts.push_back(around[0] + run + around[1]);
    }
  }
  // Long runs, fewer of them: the reference's merge is quadratic in a piece's length.
  for (const char* space : {" ", "\t", "\n", "\r\n"}) {
    std::string run;
    for (int i = 0; i < 5000; ++i) run += space;
    texts.push_back("a" + run + "b");
    texts.push_back(run);
  }
  // Mixed runs: every pair of kinds, and a long one cycling through all of them.
  for (const std::string& a : Spaces()) {
    for (const std::string& b : Spaces()) texts.push_back("w" + a + b + a + "w" + b + b);
  }
  std::string cycle;
  for (int i = 0; i < 2000; ++i) cycle += Spaces()[(i * 7) % Spaces().size()];
  texts.push_back("start" + cycle + "end");
  return texts;
}

std::vector<std::string> RandomTexts(uint64_t seed, int count) {
  RandomTextMaker maker(seed);
  std::vector<std::string> texts;
  texts.reserve(count);
  for (int i = 0; i < count; ++i) texts.push_back(maker.Make());
  return texts;
}

}  // namespace sochdb::context::testing
