// The files a config names, checked before a run: inputs readable, outputs creatable, keys that match.
#pragma once

#include "runtime/core/config.h"

namespace fedtrain {

// Throws ConfigError (exit 2) naming the config key and path of the first file a run could not
// use. Checked: data.test (the first site evaluates it), every site's data and val, each read
// whole as a run reads it, in a child process (a file that crashes libhdf5 is named); in secure
// mode every site's public key (the manifest, parsed) and the secret key of each checked site,
// loaded and matched with its public key; metrics_file, egress_log and checkpoint_dir must be
// (or be creatable as) a file, a file and a folder. With Config::process_site set (--site,
// FEDTRAIN_SITE) only that site's own files are checked, as a site of its own job holds only those.
void check_config_files(const Config& config);

}  // namespace fedtrain
