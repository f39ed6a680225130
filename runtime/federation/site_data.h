// What one rank trains and evaluates on, loaded at start-up from its site's files.
//
//   mlp  training rows of the site's image shard (ShardLoader); the test file,
//        evaluated by the first site only; the site's weight is its row count
//   gpt  random windows of the site's training text (TokenWindowSource); the
//        site's own validation text, evaluated by every site; the weight is the
//        site's training bytes
// Only the evaluation's scalars ever leave a site.
#pragma once

#include "runtime/collectives/two_level_agreement.h"

#include <memory>

#include "runtime/core/config.h"
#include "runtime/data/batch_source.h"
#include "runtime/data/dataset_file.h"
#include "runtime/model/model_factory.h"
#include "runtime/site/eval_set.h"
#include "runtime/topology/topology.h"

namespace fedtrain {

struct SiteData {
  std::unique_ptr<BatchSource> train;  // this rank's training batches
  std::unique_ptr<EvalSet> eval;       // this rank's part of its site's held-out data; null if the site does not evaluate
  double samples = 0.0;                // the site's weight in the federated average
  DataShape shape;                     // mlp: features and classes of the training data
  DatasetInfo test;                    // mlp, evaluating site: the test file
};

// Local: reads this rank's files only (no MPI), each first in a child process
// (site_files.h: a file that crashes libhdf5 is an Error naming it).
// Throws Error, or ConfigError (exit 2) for data of the wrong kind for
// model.kind or a context that does not fit the validation text, naming the file.
SiteData load_site_data(const Config& config, const Topology& topo);

// Collective over the federation: every site must feed the same model (mlp: the same
// feature count; the class count is the largest). Throws collective errors.
void agree_data_shape(const Config& config, TwoLevelAgreement& agreement, SiteData& data);

}  // namespace fedtrain
