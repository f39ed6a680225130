// Text shards in HDF5: /tokens uint8 [N], the UTF-8 bytes of a site's text, and their provenance.
//
// Root attributes (strings unless said):
//   language        the site's language code ("es"; "es,de" for a centralized file)
//   source          the Debian package ("libreoffice-help-es"), or "file"
//   source_version  the package's version ("4:7.4.7-1+deb12u14"), or "" for a file
//   sha256          hex SHA-256 of the N bytes of /tokens
//   split           "train" or "val"
//   bytes           int64, N
//   paragraphs      int64, paragraphs (each ends with "\n" in /tokens)
//   documents       int64, help pages (or paragraphs of a --text file) they came from
//   filter          the prose filter rule ("fedtrain-text-filter-1"), or "none"
//   english_reference  the English pack compared against ("libreoffice-help-en-us 4:7.4..."), or ""
//   val_fraction    float64, seed (string): how train and val were split
//   entropy_bits_per_byte  float64, byte unigram entropy of /tokens
//   license, generator     strings
// A byte is a token: the model's vocabulary is the 256 byte values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fedtrain {

struct TokenShardAttributes {
  std::map<std::string, std::string> strings;
  std::map<std::string, int64_t> integers;
  std::map<std::string, double> reals;
};

// Writes PATH.tmp, then renames it onto PATH, so PATH is whole or absent. The
// sha256 and bytes attributes are computed here.
void write_token_shard(const std::string& path, const std::string& tokens, const TokenShardAttributes& attributes);

struct TokenShard {
  std::vector<uint8_t> tokens;
  std::string language, source, source_version, sha256, split;
};

// Opens a file from 'fedtrain data text' and returns its tokens, checking that
// /tokens is uint8 and 1-D with at least 2 bytes, that the attributes above
// (language, source, source_version, sha256) are there, and that the bytes
// match sha256. Throws Error naming the file and what is wrong with it, e.g.
// an image dataset (/features, /labels) where text is expected.
TokenShard read_token_shard(const std::string& path);

}  // namespace fedtrain
