// Secret key files of a site (PKCS#8 PEM, mode 0600): read with the owner and mode checks, written privately.
//
// Shared by the X25519 identity (x25519.h) and the Ed25519 signing key
// (ed25519.h): one set of checks for every secret a site keeps on disk.
#pragma once

#include <openssl/types.h>

#include <string>

namespace fedtrain {

struct SecretKeyFile {
  std::string key;   // the config key that names the file: "secret_key", "signing_secret_key"
  std::string kind;  // what it must hold: "X25519", "Ed25519"
  int evp_type = 0;  // EVP_PKEY_X25519, EVP_PKEY_ED25519
};

// Reads the PEM file at `path` and returns its key (the caller owns it).
// Throws ConfigError naming `site` and the file when it is missing,
// unreadable, not a regular file, owned by another user than the one running
// fedtrain (or root), open to group or others, far too long, or not a key of
// `file.kind`. The checks apply to the file opened (fstat), at the end of any
// symlinks. The PEM text is read into memory that is wiped afterwards.
EVP_PKEY* read_secret_key_file(const std::string& path, const std::string& site, const SecretKeyFile& file);

// Writes `key` as PKCS#8 PEM to a new file at `path`, mode 0600, fsynced;
// refuses to overwrite. Throws Error.
void write_secret_key_file(const std::string& path, EVP_PKEY* key);

// The raw bytes of a base64 text of exactly `bytes` bytes (surrounding blanks
// and a final newline allowed); false when it is anything else.
bool raw_from_base64(const std::string& text, uint8_t* out, size_t bytes);

}  // namespace fedtrain
