// Making files durable: fsync of files and directories, and the write-fsync-rename-fsync sequence.
//
// A file renamed over its final name after an fsync, followed by an fsync of
// the directory, is on disk whole or not at all, whatever crash comes in
// between (POSIX rename is atomic; the directory fsync makes the rename itself
// durable). Every failure throws an Error naming the path and errno's text.
#pragma once

#include <string>

namespace fedtrain {

// fsync (data_only: fdatasync) of a file that may be open elsewhere: Linux
// flushes the file's pages whichever descriptor asks.
void sync_file(const std::string& path, bool data_only = false);
// fsync of a directory, so that names created, renamed or removed in it last.
void sync_directory(const std::string& dir);
// rename(from, to) and fsync of to's directory.
void rename_durably(const std::string& from, const std::string& to);

// Starts the disk writing a file's dirty pages early, while the writer goes
// on (Linux sync_file_range, SYNC_FILE_RANGE_WRITE; nothing elsewhere), so
// that the final fsync has little left to wait for. Only a hint: failures are
// ignored, durability still comes from sync_file().
class EarlyWriteback {
 public:
  explicit EarlyWriteback(const std::string& path);
  ~EarlyWriteback();
  EarlyWriteback(const EarlyWriteback&) = delete;
  EarlyWriteback& operator=(const EarlyWriteback&) = delete;
  void start();

 private:
  int fd_ = -1;
};

}  // namespace fedtrain
