// Opening a site's append-only record files (egress log, ledger): no symlinks, one writer.
#pragma once

#include <sys/types.h>

#include <string>

namespace fedtrain {

// Opens or creates `path` (and its directory) with O_RDWR|O_APPEND|O_CREAT|
// O_NOFOLLOW, mode 0640: a symlink at the path is refused (its directories
// may be links), so is anything but a regular file, and a file another
// process holds an exclusive flock on (file systems without locks go on
// unlocked). `what` names the file in errors ("egress log") and `key` the
// config key that moves it ("egress_log"). Returns the descriptor and, in
// *bytes, the file's size. Throws Error.
int open_append_only(const std::string& path, const std::string& what, const std::string& key, off_t* bytes);

}  // namespace fedtrain
