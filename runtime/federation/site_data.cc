// What one rank trains and evaluates on, loaded at start-up from its site's files.
#include "runtime/federation/site_data.h"

#include "runtime/core/error.h"
#include "runtime/data/shuffle.h"
#include "runtime/data/token_windows.h"
#include "runtime/federation/site_files.h"

namespace fedtrain {
namespace {

constexpr int kEvalWindowsPerBatch = 16;

uint64_t rank_seed(const Config& config, const Topology& topo) {
  return mix_seed(mix_seed(config.seed, static_cast<uint64_t>(topo.site_index())),
                  static_cast<uint64_t>(topo.site_rank()));
}

SiteData load_images(const Config& config, const Topology& topo, const SiteConfig& site) {
  SiteData d;
  const int rank = topo.site_rank(), ranks = topo.site_size();
  ImageShard train = read_image_shard("site " + site.name + "'s training data '" + site.data + "'", site.data, rank,
                                      ranks, rank_seed(config, topo));
  d.train = std::move(train.loader);
  d.samples = static_cast<double>(train.info.rows);
  d.shape = DataShape{static_cast<int>(train.info.features), train.info.classes};
  if (topo.site_index() == 0) {
    ImageTest test = read_image_test("test file '" + config.test_file + "'", config.test_file, rank, ranks);
    d.test = test.info;
    d.eval = std::move(test.eval);
  }
  return d;
}

SiteData load_text(const Config& config, const Topology& topo, const SiteConfig& site) {
  SiteData d;
  const TokenShard train = read_text_shard("site " + site.name + "'s training text '" + site.data + "'", site.data);
  d.train = std::make_unique<TokenWindowSource>(train.tokens, config.context, topo.site_rank(), topo.site_size(),
                                                rank_seed(config, topo), "site " + site.name + "'s training text '" +
                                                                             site.data + "'");
  d.samples = static_cast<double>(train.tokens.size());
  const TokenShard val = read_text_shard("site " + site.name + "'s validation text '" + site.val + "'", site.val);
  d.eval = make_text_eval_set(val.tokens, config.context, topo.site_rank(), topo.site_size(), kEvalWindowsPerBatch,
                              "site " + site.name + "'s validation text '" + site.val + "'");
  return d;
}

}  // namespace

SiteData load_site_data(const Config& config, const Topology& topo) {
  const SiteConfig& site = config.sites[topo.site_index()];
  return config.model_kind == ModelKind::kGpt ? load_text(config, topo, site) : load_images(config, topo, site);
}

void agree_data_shape(const Config& config, TwoLevelAgreement& agreement, SiteData& data) {
  if (config.model_kind == ModelKind::kGpt) return;  // bytes: the vocabulary is fixed
  const auto [fmin, fmax] = agreement.min_max(static_cast<int64_t>(data.shape.features));
  const auto [cmin, cmax] = agreement.min_max(data.shape.classes);
  if (fmin != fmax)
    throw Error("the sites' training data disagree on the feature count (" + std::to_string(fmin) + " vs " +
                    std::to_string(fmax) + "): every site must be prepared for the same model",
                kExitRuntime, /*collective=*/true);
  data.shape.classes = static_cast<int>(cmax);
  std::string error;
  if (data.eval && (data.test.features != static_cast<size_t>(fmin) || data.test.classes > data.shape.classes)) {
    error = "test file '" + config.test_file + "' has " + std::to_string(data.test.features) + " features and " +
            std::to_string(data.test.classes) + " classes; the training data have " + std::to_string(fmin) +
            " and " + std::to_string(data.shape.classes);
  }
  agreement.agree_startup(error, kExitRuntime);
}

}  // namespace fedtrain
