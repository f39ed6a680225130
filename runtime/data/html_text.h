// The paragraphs of running text in an HTML page, read with libxml2's HTML parser.
//
// The page is parsed into a DOM (HTML_PARSE_RECOVER, so broken markup still
// gives a tree; no network, no messages) and walked in document order:
//   - a block element (p, h1..h6, li, dt, dd, td, th, caption, div, table, ...)
//     starts and ends a paragraph; inline elements (a, span, em, ...) and their
//     text join the paragraph around them; <br> is a space;
//   - skipped with everything inside: head, script, style, noscript, template,
//     nav, header, footer, aside, form controls (button, input, label, select,
//     textarea), iframe, object, svg, math, pre and code, and block elements
//     with a class that begins or ends in "code" (LibreOffice's help marks code
//     samples class="code", "bascode", "pycode", "smathcode", "codeintable";
//     the inline span class="keycode", a key name in a sentence, is kept);
//   - an inline switch (class "switchinline": one variant of a phrase per
//     operating system or application, all hidden until a script shows one)
//     contributes only its variant whose id begins "default", else its first;
//   - entities (&eacute;, &#233;, &#xE9;) come out as their UTF-8 characters;
//   - in each paragraph every run of white space (ASCII space, tab, CR, LF, FF,
//     VT and U+00A0 no-break space) becomes one space, trimmed at both ends;
//     empty paragraphs are left out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fedtrain {

// `name` (a path, or "<memory>") is only for error messages.
std::vector<std::string> html_paragraphs(std::string_view html, const std::string& name);
// Reads and parses the file; throws Error naming it when it cannot be read.
std::vector<std::string> html_file_paragraphs(const std::string& path);

// White space runs to one space, trimmed (the rule above).
std::string collapse_whitespace(std::string_view text);

}  // namespace fedtrain
