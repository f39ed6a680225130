// What one rank trains and evaluates on, loaded at start-up from its site's files.
#include "runtime/federation/site_data.h"

#include "runtime/core/error.h"
#include "runtime/data/guarded_read.h"
#include "runtime/data/shard_loader.h"
#include "runtime/data/shuffle.h"
#include "runtime/data/token_shard.h"
#include "runtime/data/token_windows.h"
#include "runtime/io/hdf5_file.h"

namespace fedtrain {
namespace {

constexpr int kEvalWindowsPerBatch = 16;
constexpr const char* kRemakeImages = "fedtrain data fashion-mnist --out DIR --sites ...";
constexpr const char* kRemakeText = "fedtrain data text --out DIR --sites ...";

uint64_t rank_seed(const Config& config, const Topology& topo) {
  return mix_seed(mix_seed(config.seed, static_cast<uint64_t>(topo.site_index())),
                  static_cast<uint64_t>(topo.site_rank()));
}

// The text of a 'fedtrain data text' file, or a ConfigError for an image dataset.
TokenShard read_text(const std::string& path) {
  {
    H5File f = H5File::open_read(path);
    if (f.has("/features") && !f.has("/tokens"))
      throw ConfigError("HDF5 file '" + path + "' holds /features and /labels (an image dataset), not /tokens: "
                        "model.kind = gpt trains on text from 'fedtrain data text'");
  }
  return read_token_shard(path);
}

// An image file's shape, and what this rank reads of it (its rows of the training shard, or of the test file).
template <class Part>
struct ImagePart {
  DatasetInfo info;
  std::unique_ptr<Part> part;
};

SiteData load_images(const Config& config, const Topology& topo, const SiteConfig& site) {
  SiteData d;
  const int rank = topo.site_rank(), ranks = topo.site_size();
  auto train = read_guarded("site " + site.name + "'s training data '" + site.data + "'", kRemakeImages, [&] {
    const DatasetInfo info = inspect_dataset(site.data);
    return ImagePart<BatchSource>{info, std::make_unique<ShardLoader>(site.data, info, rank, ranks, rank_seed(config, topo))};
  });
  d.train = std::move(train.part);
  d.samples = static_cast<double>(train.info.rows);
  d.shape = DataShape{static_cast<int>(train.info.features), train.info.classes};
  if (topo.site_index() == 0) {
    auto test = read_guarded("test file '" + config.test_file + "'", kRemakeImages, [&] {
      const DatasetInfo info = inspect_dataset(config.test_file);
      return ImagePart<EvalSet>{info, make_image_eval_set(config.test_file, info, rank, ranks)};
    });
    d.test = test.info;
    d.eval = std::move(test.part);
  }
  return d;
}

SiteData load_text(const Config& config, const Topology& topo, const SiteConfig& site) {
  SiteData d;
  const TokenShard train = read_guarded("site " + site.name + "'s training text '" + site.data + "'", kRemakeText,
                                        [&] { return read_text(site.data); });
  d.train = std::make_unique<TokenWindowSource>(train.tokens, config.context, topo.site_rank(), topo.site_size(),
                                                rank_seed(config, topo), "site " + site.name + "'s training text '" +
                                                                             site.data + "'");
  d.samples = static_cast<double>(train.tokens.size());
  const TokenShard val = read_guarded("site " + site.name + "'s validation text '" + site.val + "'", kRemakeText,
                                      [&] { return read_text(site.val); });
  d.eval = make_text_eval_set(val.tokens, config.context, topo.site_rank(), topo.site_size(), kEvalWindowsPerBatch,
                              "site " + site.name + "'s validation text '" + site.val + "'");
  return d;
}

}  // namespace

SiteData load_site_data(const Config& config, const Topology& topo) {
  const SiteConfig& site = config.sites[topo.site_index()];
  return config.model_kind == ModelKind::kGpt ? load_text(config, topo, site) : load_images(config, topo, site);
}

void check_data_file(const std::string& what, const std::string& path, ModelKind kind) {
  if (kind == ModelKind::kGpt) return check_in_child(what, kRemakeText, [&] { (void)read_text(path); });
  check_in_child(what, kRemakeImages, [&] {
    const DatasetInfo info = inspect_dataset(path);
    (void)read_dataset_rows(path, 0, info.rows, info.classes);
  });
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
