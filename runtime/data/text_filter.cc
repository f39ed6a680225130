// The prose filter: word counts over code points, function-word lists, and the rule's order.
#include "runtime/data/text_filter.h"

#include <libxml/chvalid.h>

#include <array>
#include <cctype>
#include <map>
#include <vector>

#include "runtime/data/utf8.h"

namespace fedtrain {
namespace {

constexpr size_t kMinWords = 4;
constexpr double kMinLetterShare = 0.6;
constexpr size_t kMinEnglishWords = 2;

// English function words, frequent in untranslated help text.
constexpr const char* kEnglish =
    "the of and to is are for with that this these those you your can which from by be will not if when or it its "
    "on as at an in has have was were been all any each also only then than there their into use used using must "
    "should may other such more does do how what where who we our but so one";

// The most frequent function words of each language. Words that are also in the
// English list (de "in", "an", "so", "was", "also", "will"; fr "on", "as"; nl
// "is", "in"; pl "to", "on") are here so that they count for the language.
const std::map<std::string, const char*, std::less<>>& function_words() {
  static const std::map<std::string, const char*, std::less<>> lists = {
      {"es",
       "de la que el en y a los del se las por un para con no una su al lo como más pero sus le ya o este si entre "
       "cuando esta también sin sobre ser es son hay puede pueden desde todo todos esto estos cada otro otra donde "
       "mediante hasta e u"},
      {"de",
       "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an werden aus er "
       "hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder aber vor zur "
       "bis mehr durch man kann können dann wenn sein diese dieser dieses also was will"},
      {"fr",
       "de la le et les des en un du une que est pour qui dans par plus pas au sur ne se ce il sont aux avec ou son "
       "sa ses cette on peut être vous votre vos si comme mais tout tous à où l d qu as a"},
      {"it",
       "di e il la che in a per un del non una le si è i da con dei della al come lo gli nel alla delle anche più se "
       "ma sono o questo questa può essere tra ad ed nella degli dal sul ogni quando l"},
      {"pt",
       "de a o que e do da em um para é com não uma os no se na por mais as dos como mas ao ele das à seu sua ou "
       "quando muito nos já também só pelo pela até isso entre este esta pode ser são você"},
      {"nl",
       "de en van het een in is dat op te zijn met voor niet aan er ook als bij door of om uit kan worden wordt die "
       "deze dit naar u uw je over tot dan maar nog wel hoe zo"},
      {"pl",
       "i w na z do się nie to że jest o jak a po od za dla co przez lub oraz jego ich ten ta tym może są być tak "
       "tylko już czy przy które który która aby jeśli on"},
  };
  return lists;
}

std::unordered_set<std::string> split_words(std::string_view list) {
  std::unordered_set<std::string> out;
  size_t i = 0;
  while (i < list.size()) {
    size_t j = list.find(' ', i);
    if (j == std::string_view::npos) j = list.size();
    if (j > i) out.emplace(list.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool is_letter(char32_t c) {
  const unsigned int u = c;
  return xmlIsBaseCharQ(u) || xmlIsIdeographicQ(u) || xmlIsCombiningQ(u);
}

// A-Z and the Latin-1 capitals (U+00C0..U+00DE but U+00D7) to lower case.
char32_t to_lower(char32_t c) {
  if ((c >= U'A' && c <= U'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 0x20;
  return c;
}

void append_utf8(std::string& s, char32_t c) {
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool looks_like_code(std::string_view p) {
  for (const char* s : {"()", "=", "{", "}", "\\", "_", "://", "www.", "</", "/>"})
    if (p.find(s) != std::string_view::npos) return true;
  // A path: a token that begins with "/", "~/" or "./" and a letter or digit after the slash.
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find(' ', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view t = p.substr(i, j - i);
    for (std::string_view prefix : {"/", "~/", "./"}) {
      if (t.size() > prefix.size() && t.starts_with(prefix) &&
          std::isalnum(static_cast<unsigned char>(t[prefix.size()])))
        return true;
    }
    i = j + 1;
  }
  return false;
}

}  // namespace

const char* verdict_name(Verdict v) {
  static constexpr std::array<const char*, kVerdicts> names = {"kept",  "short",           "symbols",
                                                              "code", "english-identical", "english-words"};
  return names[static_cast<size_t>(v)];
}

TextFilter::TextFilter(const std::string& language, const std::unordered_set<std::string>* english)
    : english_paragraphs_(english) {
  std::string primary = language.substr(0, language.find_first_of("-_"));
  for (char& c : primary) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (primary == "en") {  // English text: the English tests do not apply
    own_ = split_words(kEnglish);
    english_paragraphs_ = nullptr;
    return;
  }
  const auto& lists = function_words();
  if (auto it = lists.find(primary); it != lists.end()) own_ = split_words(it->second);
  for (const std::string& w : split_words(kEnglish))
    if (!own_.count(w)) english_words_.insert(w);
}

WordCounts TextFilter::count(std::string_view p) const {
  WordCounts n;
  std::string word;
  auto end_word = [&] {
    if (word.empty()) return;
    ++n.words;
    if (own_.count(word)) ++n.own;
    else if (english_words_.count(word)) ++n.english;
    word.clear();
  };
  size_t i = 0;
  while (i < p.size()) {
    const char32_t c = next_code_point(p, i);
    if (c != U' ') ++n.non_space;
    if (is_letter(c)) {
      ++n.letters;
      append_utf8(word, to_lower(c));
    } else {
      end_word();
    }
  }
  end_word();
  return n;
}

Verdict TextFilter::classify(std::string_view p) const {
  const WordCounts n = count(p);
  if (n.words < kMinWords) return Verdict::kShort;
  if (static_cast<double>(n.letters) < kMinLetterShare * static_cast<double>(n.non_space)) return Verdict::kSymbols;
  if (looks_like_code(p)) return Verdict::kCode;
  if (english_paragraphs_ != nullptr && english_paragraphs_->count(std::string(p))) return Verdict::kEnglishIdentical;
  if (n.english >= kMinEnglishWords && n.english > n.own) return Verdict::kEnglishWords;
  return Verdict::kKeep;
}

}  // namespace fedtrain
