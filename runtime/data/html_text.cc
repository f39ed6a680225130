// Paragraphs of an HTML page through libxml2's HTML parser and a walk of its DOM.
#include "runtime/data/html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

struct XmlDocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocFree>;

struct XmlCharFree {
  void operator()(xmlChar* s) const { xmlFree(s); }
};

// An attribute's value, "" when absent.
std::string attribute(const xmlNode* n, const char* name) {
  std::unique_ptr<xmlChar, XmlCharFree> v(xmlGetProp(n, reinterpret_cast<const xmlChar*>(name)));
  return v ? reinterpret_cast<const char*>(v.get()) : "";
}

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names)
    if (n == name) return true;
  return false;
}

bool is_block(std::string_view name) {
  return one_of(name, {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "td", "th", "caption", "div",
                       "table", "thead", "tbody", "tfoot", "tr", "ul", "ol", "dl", "blockquote", "section",
                       "article", "main", "figure", "figcaption", "address", "center", "hr", "body", "html",
                       "details", "summary", "fieldset", "legend"});
}

bool is_skipped(std::string_view name) {
  return one_of(name, {"head", "script", "style", "noscript", "template", "nav", "header", "footer", "aside",
                       "button", "input", "label", "select", "option", "textarea", "form", "iframe", "object",
                       "embed", "svg", "math", "canvas", "pre", "code"});
}

// Whitespace-separated tokens of the class attribute.
std::vector<std::string> classes(const xmlNode* n) {
  std::vector<std::string> out;
  std::istringstream in(attribute(n, "class"));
  for (std::string c; in >> c;) out.push_back(c);
  return out;
}

bool has_class(const std::vector<std::string>& cs, std::string_view c) {
  for (const auto& x : cs)
    if (x == c) return true;
  return false;
}

bool is_code_class(const std::vector<std::string>& cs) {
  for (const auto& c : cs)
    if (c.starts_with("code") || c.ends_with("code")) return true;
  return false;
}

class Extractor {
 public:
  std::vector<std::string> take() {
    flush();
    return std::move(out_);
  }

  void walk(const xmlNode* n) {
    for (; n != nullptr; n = n->next) visit(n);
  }

 private:
  void visit(const xmlNode* n) {
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
      if (n->content != nullptr) text_ += reinterpret_cast<const char*>(n->content);
      return;
    }
    if (n->type != XML_ELEMENT_NODE || n->name == nullptr) return;  // comments, processing instructions
    const std::string_view name = reinterpret_cast<const char*>(n->name);  // the HTML parser lowercases names
    if (is_skipped(name)) return;
    if (name == "br") {
      text_ += ' ';
      return;
    }
    const std::vector<std::string> cs = classes(n);
    const bool block = is_block(name);
    if (block && is_code_class(cs)) {
      flush();
      return;
    }
    if (has_class(cs, "switchinline")) {
      if (const xmlNode* v = switch_variant(n)) walk(v->children);
      return;
    }
    if (block) flush();
    walk(n->children);
    if (block) flush();
  }

  // The element child whose id begins "default", else the first element child.
  static const xmlNode* switch_variant(const xmlNode* n) {
    const xmlNode* first = nullptr;
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      if (first == nullptr) first = c;
      if (attribute(c, "id").starts_with("default")) return c;
    }
    return first;
  }

  void flush() {
    std::string p = collapse_whitespace(text_);
    if (!p.empty()) out_.push_back(std::move(p));
    text_.clear();
  }

  std::vector<std::string> out_;
  std::string text_;
};

}  // namespace

std::string collapse_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool nbsp = c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xA0;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || nbsp) {
      pending_space = !out.empty();
      if (nbsp) ++i;
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += static_cast<char>(c);
  }
  return out;
}

std::vector<std::string> html_paragraphs(std::string_view html, const std::string& name) {
  if (html.size() > static_cast<size_t>(INT_MAX))
    throw Error("HTML page '" + name + "' is " + std::to_string(html.size()) +
                " bytes, more than libxml2 parses at once (2 GiB): split it");
  if (html.empty()) return {};  // libxml2 returns no document for no bytes
  const int options = HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_RECOVER;
  XmlDocPtr doc(htmlReadMemory(html.data(), static_cast<int>(html.size()), name.c_str(), "UTF-8", options));
  if (!doc)
    throw Error("libxml2 could not parse HTML page '" + name + "' even in recovery mode: check that it is HTML");
  Extractor ex;
  if (const xmlNode* root = xmlDocGetRootElement(doc.get())) ex.walk(root);
  return ex.take();
}

std::vector<std::string> html_file_paragraphs(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read HTML page '" + path + "': " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw Error("cannot read HTML page '" + path + "': read error");
  return html_paragraphs(s.str(), path);
}

}  // namespace fedtrain
