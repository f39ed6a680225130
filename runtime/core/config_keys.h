// The configuration's keys: every [section] key with its default, help and parser, and the keys of a
// [site.NAME] section. config.cc reads files and command lines against this table.
#pragma once

#include <span>
#include <string>

#include "runtime/core/config.h"

namespace fedtrain::config_keys {

// One configurable key: its default (as text), help, and how it lands in Config.
struct Key {
  const char* key;
  const char* default_value;
  const char* help;
  void (*apply)(Config&, const std::string& key, const std::string& value);
};

// What a key's value is, where the loader treats it apart: a path (taken beside the config file), a
// security setting (from the config file only). Flags of SiteKey.
enum SiteKeyFlags : unsigned { kPlain = 0, kPath = 1, kSecurity = 2 };

// Per-site keys, [site.NAME] name = value.
struct SiteKey {
  const char* name;
  unsigned flags;  // SiteKeyFlags
  const char* help;
  void (*apply)(SiteConfig&, const std::string& key, const std::string& value);
};

std::span<const Key> keys();
std::span<const SiteKey> site_keys();

// The key named `key`, or null; the [site.NAME] key named `sub` ("data", "val", ...), or null.
const Key* find_key(const std::string& key);
const SiteKey* find_site_key(const std::string& sub);
// "site.NAME.KEY" -> (NAME, KEY); false if the key does not have that shape.
bool split_site_key(const std::string& key, std::string* name, std::string* sub);
// Throws ConfigError for an unknown `key` found `where` ("in FILE", "on the command line"),
// naming the nearest known key where one is close.
[[noreturn]] void unknown_key(const std::string& key, const std::string& where);

// Keys whose values name files or folders. A relative path means: in a config file, beside that
// file (the same config works from any working directory); on the command line or as a
// default, under the working directory. Either way Config holds it absolute.
bool is_path_key(const std::string& key);

// The keys that decide whether and with whom a site's update is protected.
// On the command line they could be changed by a launcher or a wrapper script
// without anyone who reads the config file noticing, so they come from the
// file unless the command line says --allow-security-overrides.
bool is_security_key(const std::string& key);
// Those keys for a message: "federation.secure, [site.NAME] public_key, public_key_file, ...".
std::string security_keys_text();

}  // namespace fedtrain::config_keys
