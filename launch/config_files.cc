// The files a config names, checked before a run.
#include "launch/config_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "runtime/core/error.h"
#include "runtime/federation/secure_setup.h"
#include "runtime/federation/site_files.h"

namespace fedtrain {
namespace {

[[noreturn]] void refuse(const std::string& key, const std::string& path, const std::string& why) {
  throw ConfigError("config key '" + key + "' names '" + path + "', which " + why);
}

// An input: a regular file this process can open for reading.
void check_input(const std::string& key, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int saved = errno;
    refuse(key, path, saved == ENOENT ? "does not exist: check the path (relative paths in a config file are "
                                        "taken beside the file)"
                                      : std::string("cannot be read: ") + std::strerror(saved));
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) refuse(key, path, "is not a regular file");
}

// A data file: readable, then read whole in a child process as a run reads it (every dataset, its
// shape and type; runtime/io/guarded_read.h), so that a file on which libhdf5 crashes is named here.
void check_data(const std::string& key, const std::string& path, ModelKind kind) {
  check_input(key, path);
  try {
    check_data_file("'" + path + "'", path, kind);
  } catch (const Error& e) {
    refuse(key, path, std::string("cannot be used: ") + e.what());
  }
}

// An output: an existing file (or folder) of the right kind, or a path whose nearest existing
// ancestor is a folder this process may write in (the run creates what is missing).
void check_output(const std::string& key, const std::string& path, bool folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (fs::exists(st)) {
    if (folder ? !fs::is_directory(st) : !fs::is_regular_file(st))
      refuse(key, path, folder ? "is not a folder" : "is not a regular file");
    if (::access(path.c_str(), W_OK) != 0) refuse(key, path, std::string("cannot be written: ") + std::strerror(errno));
    return;
  }
  fs::path up = fs::path(path).parent_path();
  while (!up.empty() && !fs::exists(up, ec)) up = up.parent_path();
  if (up.empty()) up = ".";
  if (!fs::is_directory(up, ec))
    refuse(key, path, "cannot be created: '" + up.string() + "' is not a folder");
  if (::access(up.c_str(), W_OK) != 0)
    refuse(key, path, "cannot be created: '" + up.string() + "' is not writable: " + std::strerror(errno));
}

}  // namespace

void check_config_files(const Config& c) {
  const bool one_site = !c.process_site.empty();
  const auto mine = [&](const SiteConfig& s) { return !one_site || s.name == c.process_site; };
  const bool text = c.model_kind == ModelKind::kGpt;
  if (!text && mine(c.sites.front())) check_data("data.test", c.test_file, c.model_kind);
  for (const auto& s : c.sites) {
    if (!mine(s)) continue;
    const std::string k = "site." + s.name + ".";
    check_data(k + "data", s.data, c.model_kind);
    if (text && !s.val.empty()) check_data(k + "val", s.val, c.model_kind);
    else if (!s.val.empty()) check_input(k + "val", s.val);
  }
  if (c.exchange.secure) {
    for (const auto& s : c.sites)
      if (!s.public_key_file.empty()) check_input("site." + s.name + ".public_key_file", s.public_key_file);
    const Manifest manifest = load_manifest(c);
    check_exchange_config(c);
    for (size_t i = 0; i < c.sites.size(); ++i) {
      if (!mine(c.sites[i])) continue;
      check_input("site." + c.sites[i].name + ".secret_key", c.sites[i].secret_key);
      load_site_identity(c, manifest, static_cast<int>(i));
    }
  }
  check_output("run.metrics_file", c.metrics_file, false);
  for (const auto& s : c.sites) {
    if (!mine(s)) continue;
    check_output("site." + s.name + ".egress_log", s.egress_log, false);
    if (!s.checkpoint_dir.empty()) check_output("site." + s.name + ".checkpoint_dir", s.checkpoint_dir, true);
  }
}

}  // namespace fedtrain
