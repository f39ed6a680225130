// The cross-key checks of a loaded config (config_checks.cc), run by load_config once every key
// has its value: sites, model, leader addresses, devices, secure aggregation, ledger, checkpoints.
// Each failure is a ConfigError naming the keys at fault and what to set.
#pragma once

#include "runtime/core/config.h"

namespace fedtrain {

// May settle what `auto` leaves open (run.device for the GPT).
void check_config(Config& c);

}  // namespace fedtrain
