// Text corpora: HTML paragraphs, the prose filter, strict UTF-8, the document split, help packs and token shards.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "runtime/core/error.h"
#include "runtime/crypto/sha256.h"
#include "runtime/data/dataset_file.h"
#include "runtime/data/help_pack.h"
#include "runtime/data/html_text.h"
#include "runtime/data/text_corpus.h"
#include "runtime/data/text_filter.h"
#include "runtime/data/token_shard.h"
#include "runtime/data/utf8.h"
#include "runtime/io/hdf5_file.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

using Strings = std::vector<std::string>;

// The error's text and exit code, or ("", 0) when none was thrown.
std::pair<std::string, int> error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.what(), e.exit_code()};
  }
  return {"", 0};
}

void write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// ---- HTML paragraphs ----

TEST(HtmlText, BlocksInlineTagsEntitiesAndSkippedElements) {
  const std::string page = R"(<!DOCTYPE html>
<html lang="es"><head><title>Título</title><style>p { color: red }</style>
<script>var x = "<p>no</p>";</script></head>
<body>
<header><p>Ayuda de LibreOffice 7.4</p></header>
<nav><ul><li>Menú</li></ul></nav>
<aside><label>Contenido</label><input type="search"></aside>
<div id="DisplayArea">
<h1>Fila</h1>
<p class="paragraph">Establece la <span class="emph">altura   de <b>la <i>fila</i></b></span>
 y oculta las filas.</p>
<p>Caf&eacute;, caf&#233; y caf&#xE9; &amp; m&aacute;s&nbsp;texto.<br>Segunda&#160;l&iacute;nea.</p>
<div>Texto suelto <p>anidado</p> y cola</div>
<pre><code class="language-visual-basic">Dim a As Integer</code></pre>
<p class="code">MsgBox "hola"</p>
<p>Pulse <span class="keycode">Ctrl</span>+F o vaya a <span class="switchinline"><span hidden="true" class="MAC">LibreOffice ▸ Preferencias</span><span hidden="true" id="default_1">Herramientas ▸ Opciones</span></span>.</p>
<table><tr><td><p>Celda uno</p></td><td>Celda dos</td></tr></table>
<ol><li>Primero</li><li>Segundo <a href="x.html">enlace</a></li></ol>
<!-- a comment -->
</div>
<footer><div id="DEBUG"><p>This page is: /text/scalc/01/05030000.xhp</p></div></footer>
</body></html>)";
  const Strings expected = {
      "Fila",
      "Establece la altura de la fila y oculta las filas.",
      "Café, café y café & más texto. Segunda línea.",
      "Texto suelto",
      "anidado",
      "y cola",
      "Pulse Ctrl+F o vaya a Herramientas ▸ Opciones.",
      "Celda uno",
      "Celda dos",
      "Primero",
      "Segundo enlace",
  };
  EXPECT_EQ(html_paragraphs(page, "<memory>"), expected);
}

TEST(HtmlText, BrokenMarkupIsRecoveredAndSwitchWithoutDefaultTakesTheFirst) {
  const std::string page =
      "<p>Sin cerrar <b>negrita<p>Otro <span class=\"switchinline\"><span class=\"CALC\">Hoja</span>"
      "<span class=\"WRITER\">Tabla</span></span> fin";
  EXPECT_EQ(html_paragraphs(page, "<memory>"), (Strings{"Sin cerrar negrita", "Otro Hoja fin"}));
  EXPECT_TRUE(html_paragraphs("", "<memory>").empty());
}

TEST(HtmlText, CollapseWhitespace) {
  EXPECT_EQ(collapse_whitespace("  a \t\n b\xC2\xA0\xC2\xA0" "c\r\n"), "a b c");
  EXPECT_EQ(collapse_whitespace(" \xC2\xA0 "), "");
  EXPECT_EQ(collapse_whitespace("\xC3\xA9t\xC3\xA9"), "\xC3\xA9t\xC3\xA9");  // é is not a space
}

TEST(HtmlText, UnreadableFileIsANamedError) {
  auto [what, code] = error_of([] { html_file_paragraphs("/nonexistent/page.html"); });
  EXPECT_NE(what.find("cannot read HTML page '/nonexistent/page.html'"), std::string::npos) << what;
}

// ---- the prose filter ----

TEST(TextFilter, KeepsTargetProseDropsEnglishCodeShortAndSymbols) {
  const std::unordered_set<std::string> english = {"Returns True when successful and the value."};
  const TextFilter es("es", &english);
  EXPECT_EQ(es.classify("Establece la altura de la fila y oculta o muestra las filas seleccionadas."), Verdict::kKeep);
  EXPECT_EQ(es.classify("Inserta un Y booleano con dos huecos en el documento."), Verdict::kKeep);
  EXPECT_EQ(es.classify("Altura óptima"), Verdict::kShort);
  EXPECT_EQ(es.classify("Ctrl + Mayús"), Verdict::kShort);
  EXPECT_EQ(es.classify("12,5 % 3,4 % 9,1 % 7 a b c d"), Verdict::kSymbols);
  EXPECT_EQ(es.classify("Escriba =SUMA(A1:B2) en la celda de la hoja."), Verdict::kCode);
  EXPECT_EQ(es.classify("Llame a la función getDisplayDirectory() del objeto."), Verdict::kCode);
  EXPECT_EQ(es.classify("Los archivos están en /usr/share/libreoffice del sistema."), Verdict::kCode);
  EXPECT_EQ(es.classify("Visite https://help.libreoffice.org para ver la ayuda."), Verdict::kCode);
  EXPECT_EQ(es.classify("La variable MAX_VALUE contiene el valor máximo permitido."), Verdict::kCode);
  EXPECT_EQ(es.classify("Escriba C:\\Archivos en el cuadro de la ruta."), Verdict::kCode);
  EXPECT_EQ(es.classify("Returns True when successful and the value."), Verdict::kEnglishIdentical);
  EXPECT_EQ(es.classify("If you are using drag-and-drop, you can use the keys of the mouse."), Verdict::kEnglishWords);
  // One English word among Spanish ones is a quoted name, not English text.
  EXPECT_EQ(es.classify("Pulse en Table of Contents para abrir el cuadro de diálogo."), Verdict::kKeep);
  // Capitals are folded (Latin-1 too): "THE", "Of" count as English.
  EXPECT_EQ(es.classify("THE VALUE Of This Cell Is Shown Here"), Verdict::kEnglishWords);
}

TEST(TextFilter, FunctionWordsSharedWithEnglishCountForTheLanguage) {
  // German "in", "an", "was", "also", "so" are English function words too.
  const TextFilter de("de", nullptr);
  EXPECT_EQ(de.classify("Was in der Zelle steht, wird also so an die Tabelle angepasst."), Verdict::kKeep);
  const WordCounts n = de.count("Was in der Zelle steht, wird also so an die Tabelle angepasst.");
  EXPECT_EQ(n.words, 12u);
  EXPECT_EQ(n.english, 0u);
  EXPECT_GE(n.own, 8u);
  EXPECT_EQ(de.classify("Returns the value of the cell in the sheet."), Verdict::kEnglishWords);
  // Dutch "is", "in"; Polish "to", "on"; pt-br takes the pt list.
  EXPECT_EQ(TextFilter("nl", nullptr).classify("Dit is de waarde in de cel van het blad."), Verdict::kKeep);
  EXPECT_EQ(TextFilter("pl", nullptr).classify("To jest wartość, którą on wpisał w komórce."), Verdict::kKeep);
  EXPECT_TRUE(TextFilter("pt-br", nullptr).knows_language());
  // Without the English pack there is no identical test, only the word test.
  EXPECT_EQ(TextFilter("es", nullptr).classify("Returns True when the method is successful."), Verdict::kEnglishWords);
}

TEST(TextFilter, EnglishSitesSkipTheEnglishTests) {
  const std::unordered_set<std::string> english = {"Returns the value of the cell in the sheet."};
  for (const char* lang : {"en", "en-us", "en-gb"}) {
    const TextFilter en(lang, &english);
    EXPECT_EQ(en.classify("Returns the value of the cell in the sheet."), Verdict::kKeep) << lang;
    EXPECT_EQ(en.classify("Type =SUM(A1:B2) in the cell of the sheet."), Verdict::kCode) << lang;
  }
}

TEST(TextFilter, LanguagesWithoutAListDropOnTwoEnglishWords) {
  const TextFilter ka("ka", nullptr);
  EXPECT_FALSE(ka.knows_language());
  EXPECT_EQ(ka.classify("უჯრის სიმაღლის შეცვლა ახლა შესაძლებელია"), Verdict::kKeep);
  EXPECT_EQ(ka.classify("Sets the height of the row now"), Verdict::kEnglishWords);
}

// ---- strict UTF-8 ----

TEST(Utf8, ValidMultiByteAndBoundaries) {
  EXPECT_FALSE(find_invalid_utf8(""));
  EXPECT_FALSE(find_invalid_utf8("plain ASCII\n"));
  EXPECT_FALSE(find_invalid_utf8("ñ € 𝄞 ß Ł"));
  EXPECT_FALSE(find_invalid_utf8("\xC2\x80"));              // U+0080, smallest 2-byte
  EXPECT_FALSE(find_invalid_utf8("\xE0\xA0\x80"));          // U+0800, smallest 3-byte
  EXPECT_FALSE(find_invalid_utf8("\xED\x9F\xBF"));          // U+D7FF, below the surrogates
  EXPECT_FALSE(find_invalid_utf8("\xEE\x80\x80"));          // U+E000, above them
  EXPECT_FALSE(find_invalid_utf8("\xF0\x90\x80\x80"));      // U+10000, smallest 4-byte
  EXPECT_FALSE(find_invalid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF, the largest
  size_t i = 0;
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E";
  EXPECT_EQ(next_code_point(s, i), U'a');
  EXPECT_EQ(next_code_point(s, i), U'\u00E9');
  EXPECT_EQ(next_code_point(s, i), U'\u20AC');
  EXPECT_EQ(next_code_point(s, i), U'\U0001D11E');
  EXPECT_EQ(i, s.size());
}

TEST(Utf8, InvalidSequencesAtTheirByteOffsets) {
  struct Case {
    std::string bytes;
    size_t offset;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"ab\xC0\xAF", 2, "overlong"},                    // '/' in 2 bytes
      {"ab\xC1\xBF", 2, "overlong"},
      {"abc\xE0\x80\xAF", 3, "overlong"},               // '/' in 3 bytes
      {"\xF0\x80\x80\xAF", 0, "overlong"},              // '/' in 4 bytes
      {"x\xED\xA0\x80y", 1, "surrogate"},               // U+D800
      {"xy\xED\xBF\xBF", 2, "surrogate"},               // U+DFFF
      {"\xF4\x90\x80\x80", 0, "above U+10FFFF"},        // U+110000
      {"ok \xF5\x80\x80\x80", 3, "never occurs"},
      {"\xFF", 0, "never occurs"},
      {"caf\xC3", 3, "truncated"},                      // at the end
      {"\xE2\x82", 0, "truncated"},
      {"\xE2\x82" "A", 0, "truncated"},                 // continuation missing mid-text
      {"\xF0\x9D\x84", 0, "truncated"},
      {"\xC3\xA9\x80", 2, "continuation byte without a lead"},
  };
  for (const Case& c : cases) {
    auto p = find_invalid_utf8(c.bytes);
    ASSERT_TRUE(p) << "case at offset " << c.offset;
    EXPECT_EQ(p->offset, c.offset) << p->what;
    EXPECT_NE(std::string(p->what).find(c.what), std::string::npos) << p->what;
  }
  size_t i = 0;
  EXPECT_EQ(next_code_point("\xC0\xAF", i), U'\uFFFD');
  EXPECT_EQ(i, 1u);
}

TEST(Utf8, BadTextFileIsAConfigErrorNamingFileAndOffset) {
  testing::TempDir dir;
  write_file(dir.file("latin1.txt"), "Primera línea bien.\n\nSegunda con caf\xE9 en Latin-1.\n");
  auto [what, code] = error_of([&] { read_text_file(dir.file("latin1.txt")); });
  EXPECT_EQ(code, kExitUsage);
  EXPECT_NE(what.find("'" + dir.file("latin1.txt") + "' is not valid UTF-8: at byte offset 37"), std::string::npos)
      << what;
  std::tie(what, code) = error_of([&] { read_text_file(dir.file("missing.txt")); });
  EXPECT_EQ(code, kExitUsage);
  EXPECT_NE(what.find("missing.txt"), std::string::npos) << what;
}

// ---- documents and the split ----

TEST(TextCorpus, UserTextLinesAreParagraphsBlankLinesSeparateDocuments) {
  const auto docs = split_text("\xEF\xBB\xBF" "Uno\r\ndos  tres\r\n \t\r\nCuatro\n\n\n\ncinco\n");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].key, "000000");
  EXPECT_EQ(docs[0].paragraphs, (Strings{"Uno", "dos tres"}));
  EXPECT_EQ(docs[1].paragraphs, Strings{"Cuatro"});
  EXPECT_EQ(docs[2].key, "000002");
  EXPECT_EQ(docs[2].paragraphs, Strings{"cinco"});
  // Without blank lines every line is a document (the output format reads back as it is).
  const auto lines = split_text("\n\nuno\ndos\ntres");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2].paragraphs, Strings{"tres"});
  EXPECT_TRUE(split_text(" \n\t\n").empty());
}

TEST(TextCorpus, ValidationDocumentsAreDeterministicAndTheSameForTheSameKeys) {
  Strings keys;
  for (int i = 0; i < 200; ++i) keys.push_back("text/page" + std::to_string(i) + ".html");
  const SplitRule rule{0.05, 7};
  const auto a = validation_documents(keys, rule);
  EXPECT_EQ(a, validation_documents(keys, rule));
  EXPECT_EQ(std::count(a.begin(), a.end(), true), 10);
  // Held-out pages depend on the key, not on the position: reversing the list holds out the same pages.
  Strings reversed(keys.rbegin(), keys.rend());
  const auto b = validation_documents(reversed, rule);
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(a[i], b[keys.size() - 1 - i]);
  EXPECT_NE(a, validation_documents(keys, SplitRule{0.05, 8}));
  // At least one document, never all.
  const auto two = validation_documents({"x", "y"}, SplitRule{0.01, 1});
  EXPECT_EQ(std::count(two.begin(), two.end(), true), 1);
  const auto half = validation_documents({"x", "y"}, SplitRule{0.5, 1});
  EXPECT_EQ(std::count(half.begin(), half.end(), true), 1);
  EXPECT_EQ(validation_documents({"x"}, rule), std::vector<bool>{false});
}

TEST(TextCorpus, SplitDeduplicatesAcrossSplitsAndCountsEveryParagraph) {
  std::vector<TextDocument> docs;
  for (int i = 0; i < 20; ++i)
    docs.push_back({"page" + std::to_string(i), {"Párrafo común repetido en cada página del manual.",
                                                 "Texto propio de la página número " + std::to_string(i) + " aquí.",
                                                 "Short", "Returns the value of the cell in the sheet."}});
  const TextFilter es("es", nullptr);
  const SplitRule rule{0.2, 3};
  std::vector<DroppedParagraph> dropped;
  const TextSplit s = build_text_split(docs, &es, rule, &dropped);
  EXPECT_EQ(s.train, build_text_split(docs, &es, rule).train);  // deterministic
  const CorpusCounts& n = s.counts;
  EXPECT_EQ(n.documents, 20u);
  EXPECT_EQ(n.val_documents, 4u);
  EXPECT_EQ(n.paragraphs, 80u);
  EXPECT_EQ(n.verdicts[static_cast<size_t>(Verdict::kShort)], 20u);
  EXPECT_EQ(n.verdicts[static_cast<size_t>(Verdict::kEnglishWords)], 20u);
  EXPECT_EQ(n.duplicates, 19u);
  EXPECT_EQ(n.train_paragraphs + n.val_paragraphs, 21u);
  EXPECT_EQ(n.dropped(), 59u);
  EXPECT_EQ(dropped.size(), 59u);
  EXPECT_EQ(dropped[0].reason, "short");
  // The repeated paragraph is in exactly one split, once.
  const std::string common = "Párrafo común repetido en cada página del manual.\n";
  const size_t in_train = s.train.find(common) != std::string::npos, in_val = s.val.find(common) != std::string::npos;
  EXPECT_EQ(in_train + in_val, 1u);
  // Every held-out page's own paragraph is in val, every other in train.
  const auto val = validation_documents({"page0", "page1", "page2", "page3", "page4", "page5", "page6", "page7",
                                         "page8", "page9", "page10", "page11", "page12", "page13", "page14", "page15",
                                         "page16", "page17", "page18", "page19"},
                                        rule);
  for (int i = 0; i < 20; ++i) {
    const std::string own = "Texto propio de la página número " + std::to_string(i) + " aquí.\n";
    EXPECT_EQ(s.val.find(own) != std::string::npos, val[i]) << i;
    EXPECT_EQ(s.train.find(own) != std::string::npos, !val[i]) << i;
  }
  // Without a filter (a user's file) only duplicates go.
  const TextSplit raw = build_text_split(docs, nullptr, rule);
  EXPECT_EQ(raw.counts.train_paragraphs + raw.counts.val_paragraphs, 20u + 3);  // 20 own, 3 shared once each
}

TEST(TextCorpus, ByteEntropy) {
  EXPECT_DOUBLE_EQ(byte_entropy_bits(""), 0.0);
  EXPECT_DOUBLE_EQ(byte_entropy_bits("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(byte_entropy_bits("abab"), 1.0);
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_DOUBLE_EQ(byte_entropy_bits(all), 8.0);
}

TEST(TextCorpus, HelpPagesInPathOrder) {
  testing::TempDir dir;
  write_file(dir.file("help/es/text/b/2.html"), "<p>Segunda página de la ayuda.</p>");
  write_file(dir.file("help/es/text/a/9.html"), "<p>Primera página de la ayuda.</p>");
  write_file(dir.file("help/es/text/a/script.js"), "var x;");
  const auto docs = read_help_pages(dir.file("help/es"));
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].key, "text/a/9.html");
  EXPECT_EQ(docs[1].key, "text/b/2.html");
  EXPECT_EQ(docs[1].paragraphs, Strings{"Segunda página de la ayuda."});
}

// ---- help packs ----

TEST(HelpPack, NamesAndACacheWithItsControlData) {
  EXPECT_EQ(help_package_name("pt-br"), "libreoffice-help-pt-br");
  EXPECT_EQ(help_dir_name("pt-br"), "pt-BR");
  EXPECT_EQ(help_dir_name("es"), "es");
  testing::TempDir cache;
  write_file(cache.file("libreoffice-help-es/usr/share/libreoffice/help/es/text/p.html"), "<p>x</p>");
  write_file(cache.file("libreoffice-help-es/DEBIAN/control"),
             "Package: libreoffice-help-es\nSource: libreoffice\nVersion: 4:7.4.7-1+deb12u14\nArchitecture: all\n");
  const HelpPack h = find_help_pack("es", cache.path());
  EXPECT_EQ(h.package, "libreoffice-help-es");
  EXPECT_EQ(h.version, "4:7.4.7-1+deb12u14");
  EXPECT_EQ(h.dir, cache.file("libreoffice-help-es/usr/share/libreoffice/help/es"));
}

TEST(HelpPack, MissingPacksAreConfigErrorsNamingThePackage) {
  testing::TempDir cache;
  auto [what, code] = error_of([&] { find_help_pack("ka", cache.path()); });
  EXPECT_EQ(code, kExitUsage);
  EXPECT_NE(what.find("libreoffice-help-ka is not in --source"), std::string::npos) << what;
  EXPECT_NE(what.find("launch/install-deps.sh --fetch-help " + cache.path() + " ka"), std::string::npos) << what;
  EXPECT_FALSE(find_help_pack_if_present("ka", cache.path()));
  std::tie(what, code) = error_of([&] { find_help_pack("xx", ""); });  // no such pack is ever installed
  EXPECT_EQ(code, kExitUsage);
  EXPECT_NE(what.find("libreoffice-help-xx is not installed"), std::string::npos) << what;
  EXPECT_NE(what.find("launch/install-deps.sh libreoffice-help-xx"), std::string::npos) << what;
  std::tie(what, code) = error_of([&] { find_help_pack("site_one", ""); });
  EXPECT_EQ(code, kExitUsage);
  EXPECT_NE(what.find("'site_one' is not a language code"), std::string::npos) << what;
  // Pages without their control data: the version is unknown.
  write_file(cache.file("libreoffice-help-fr/usr/share/libreoffice/help/fr/text/p.html"), "<p>x</p>");
  std::tie(what, code) = error_of([&] { find_help_pack("fr", cache.path()); });
  EXPECT_EQ(code, kExitUsage);
  EXPECT_NE(what.find("DEBIAN/control' is missing or does not name libreoffice-help-fr"), std::string::npos) << what;
}

// ---- token shards ----

TEST(TokenShard, WritesAndReadsBackWithProvenance) {
  testing::TempDir dir;
  const std::string text = "Hola, mundo.\nSegunda línea.\n";
  TokenShardAttributes a;
  a.strings = {{"language", "es"}, {"source", "libreoffice-help-es"}, {"source_version", "4:7.4.7-1"},
               {"split", "train"}};
  a.integers["paragraphs"] = 2;
  write_token_shard(dir.file("train-es.h5"), text, a);
  EXPECT_FALSE(std::filesystem::exists(dir.file("train-es.h5.tmp")));
  const TokenShard s = read_token_shard(dir.file("train-es.h5"));
  EXPECT_EQ(std::string(s.tokens.begin(), s.tokens.end()), text);
  EXPECT_EQ(s.language, "es");
  EXPECT_EQ(s.source, "libreoffice-help-es");
  EXPECT_EQ(s.source_version, "4:7.4.7-1");
  EXPECT_EQ(s.split, "train");
  EXPECT_EQ(s.sha256, to_hex(sha256(text.data(), text.size())));
  H5File f = H5File::open_read(dir.file("train-es.h5"));
  EXPECT_EQ(f.attr_int("bytes"), static_cast<int64_t>(text.size()));
  EXPECT_EQ(f.info("/tokens").shape, std::vector<size_t>{text.size()});
}

// A file with a /tokens dataset of any type and shape, and the four attributes.
void write_odd_tokens(const std::string& path, hid_t type, const std::vector<hsize_t>& dims, const std::string& sha,
                      bool attributes = true) {
  H5File f = H5File::create(path);
  H5Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Id ds(H5Dcreate2(f.id(), "/tokens", type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  ASSERT_GE(ds.get(), 0);
  size_t n = 1;
  for (hsize_t d : dims) n *= d;
  std::vector<uint8_t> zeros(n * H5Tget_size(type), 0);
  ASSERT_GE(H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data()), 0);
  if (attributes) {
    for (const char* k : {"language", "source", "source_version"}) f.set_attr(k, std::string("x"));
    f.set_attr("sha256", sha);
  }
  f.close();
}

TEST(TokenShard, WrongFilesAreNamedErrors) {
  testing::TempDir dir;
  write_dataset_file(dir.file("images.h5"), testing::make_blobs(8, 4, 2, 1), 2, {});
  auto [what, code] = error_of([&] { read_token_shard(dir.file("images.h5")); });
  EXPECT_NE(what.find("'" + dir.file("images.h5") +
                      "' holds /features and /labels (an image dataset), not /tokens: model.kind = gpt needs text "
                      "from 'fedtrain data text'"),
            std::string::npos)
      << what;
  const std::string zeros4 = to_hex(sha256(std::string(4, '\0').data(), 4));
  write_odd_tokens(dir.file("int32.h5"), H5T_STD_I32LE, {4}, zeros4);
  EXPECT_NE(error_of([&] { read_token_shard(dir.file("int32.h5")); }).first.find("not uint8"), std::string::npos);
  write_odd_tokens(dir.file("int8.h5"), H5T_STD_I8LE, {4}, zeros4);
  EXPECT_NE(error_of([&] { read_token_shard(dir.file("int8.h5")); }).first.find("not uint8"), std::string::npos);
  write_odd_tokens(dir.file("2d.h5"), H5T_STD_U8LE, {2, 2}, zeros4);
  EXPECT_NE(error_of([&] { read_token_shard(dir.file("2d.h5")); }).first.find("of 2 dimensions, not 1"),
            std::string::npos);
  write_odd_tokens(dir.file("one.h5"), H5T_STD_U8LE, {1}, zeros4);
  EXPECT_NE(error_of([&] { read_token_shard(dir.file("one.h5")); }).first.find("only 1 tokens"), std::string::npos);
  write_odd_tokens(dir.file("badsha.h5"), H5T_STD_U8LE, {4}, std::string(64, '0'));
  what = error_of([&] { read_token_shard(dir.file("badsha.h5")); }).first;
  EXPECT_NE(what.find("the file is damaged or was changed"), std::string::npos) << what;
  write_odd_tokens(dir.file("bare.h5"), H5T_STD_U8LE, {4}, zeros4, /*attributes=*/false);
  EXPECT_NE(error_of([&] { read_token_shard(dir.file("bare.h5")); }).first.find("lacks the attribute 'language'"),
            std::string::npos);
  write_odd_tokens(dir.file("good.h5"), H5T_STD_U8LE, {4}, zeros4);
  EXPECT_EQ(read_token_shard(dir.file("good.h5")).tokens.size(), 4u);
  {
    H5File f = H5File::create(dir.file("noattr.h5"));
    f.write("/tokens_not", H5Type::kInt32, {1}, std::vector<int32_t>{1}.data());
    f.close();
  }
  EXPECT_NE(error_of([&] { read_token_shard(dir.file("noattr.h5")); }).first.find("has no dataset /tokens"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_token_shard(dir.file("absent.h5")); }).first.find("absent.h5"), std::string::npos);
}

}  // namespace
}  // namespace fedtrain
