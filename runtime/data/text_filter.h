// Which paragraphs count as prose in a site's language: the filter rule, versioned, applied to help pages.
//
// Rule "fedtrain-text-filter-1". Words are the maximal runs of letters (XML 1.0
// Letter or CombiningChar, from libxml2's tables: Latin, Greek, Cyrillic, ...,
// CJK), compared after lowercasing A-Z and the Latin-1 capitals (A-grave ..
// Thorn). A paragraph is dropped, for the first of these reasons that holds:
//   short      it has fewer than 4 words;
//   symbols    letters are less than 60% of its code points other than spaces;
//   code       it contains "()", "=", "{", "}", "\", "_", "://", "www.", "</"
//              or "/>", or a space-separated token that begins with "/", "~/"
//              or "./" (a path);
//   english-identical  it is identical to a paragraph of the English help,
//              where the English pack is available (untranslated text);
//   english-words  at least 2 of its words are English function words that
//              are not also function words of the site's language, and they
//              outnumber the words from the language's own list (the lists are
//              in text_filter.cc: es, de, fr, it, pt, nl, pl; another language
//              has an empty list, so 2 English function words drop a paragraph).
// For English itself (en, en-us, en-gb) neither English test applies.
// Everything else is kept as it is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

namespace fedtrain {

inline constexpr const char* kTextFilterRule = "fedtrain-text-filter-1";

enum class Verdict : uint8_t { kKeep, kShort, kSymbols, kCode, kEnglishIdentical, kEnglishWords };
inline constexpr int kVerdicts = 6;
// "kept", "short", "symbols", "code", "english-identical", "english-words".
const char* verdict_name(Verdict v);

struct WordCounts {
  size_t words = 0;
  size_t letters = 0;       // code points that are letters
  size_t non_space = 0;     // code points other than ' '
  size_t english = 0;       // English function words not in the language's list
  size_t own = 0;           // words in the language's list
};

class TextFilter {
 public:
  // `language`: the site's language code ("es", "pt-br": its primary subtag picks
  // the list). `english`: every paragraph of the English help, or nullptr.
  TextFilter(const std::string& language, const std::unordered_set<std::string>* english);
  Verdict classify(std::string_view paragraph) const;
  WordCounts count(std::string_view paragraph) const;
  // Whether the language has its own function-word list.
  bool knows_language() const { return !own_.empty(); }

 private:
  std::unordered_set<std::string> own_, english_words_;  // english_words_: English minus own_
  const std::unordered_set<std::string>* english_paragraphs_;
};

}  // namespace fedtrain
