// fedtrain data: turn a standard dataset into one HDF5 training shard per site plus a test file.
//
//   fedtrain data fashion-mnist --out DIR --sites es,de --partition iid|dirichlet --alpha 0.5 --seed 1
//   fedtrain data text ...      (cmd_data_text.cc: text corpora for language models)
//
// Writes DIR/train-<site>.h5 and DIR/test.h5 (/features float32 [N,784] in
// [0,1], /labels int32 [N]). All files are written under temporary names and
// renamed only when every one is complete: a failure leaves nothing behind.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "launch/commands.h"
#include "runtime/core/config_values.h"
#include "runtime/core/error.h"
#include "runtime/data/dataset_file.h"
#include "runtime/data/idx_reader.h"
#include "runtime/data/partition.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace fedtrain {
namespace {

constexpr int kClasses = 10;

struct DataOptions {
  std::string dataset, out, source = "/usr/share/datasets/fashion-mnist", partition = "iid";
  std::vector<std::string> sites;
  double alpha = 0.5;
  uint64_t seed = 1;
  size_t train_limit = 0, test_limit = 0;  // 0: all
};

Dataset to_dataset(const IdxImages& img, const std::vector<uint8_t>& labels, const std::vector<size_t>& rows) {
  Dataset d;
  d.rows = rows.size();
  d.features = img.rows * img.cols;
  d.x.resize(d.rows * d.features);
  d.y.resize(d.rows);
  for (size_t i = 0; i < rows.size(); ++i) {
    const uint8_t* px = img.pixels.data() + rows[i] * d.features;
    for (size_t j = 0; j < d.features; ++j) d.x[i * d.features + j] = px[j] * (1.0f / 255.0f);
    d.y[i] = labels[rows[i]];
  }
  return d;
}

void check_pair(const IdxImages& img, const std::vector<uint8_t>& labels, const std::string& images_path,
                const std::string& labels_path) {
  if (img.count != labels.size())
    throw Error("'" + images_path + "' holds " + std::to_string(img.count) + " images but '" + labels_path +
                "' holds " + std::to_string(labels.size()) + " labels");
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= kClasses)
      throw Error("'" + labels_path + "' label " + std::to_string(i) + " is " + std::to_string(labels[i]) +
                  ", outside 0..9");
}

std::string histogram(const Dataset& d) {
  std::vector<size_t> h(kClasses, 0);
  for (int32_t y : d.y) ++h[y];
  std::ostringstream s;
  for (int c = 0; c < kClasses; ++c) s << (c ? " " : "") << h[c];
  return s.str();
}

int prepare(const DataOptions& o) {
  const std::string src = o.source;
  const std::string train_images = src + "/train-images-idx3-ubyte.gz", train_labels = src + "/train-labels-idx1-ubyte.gz";
  const std::string test_images = src + "/t10k-images-idx3-ubyte.gz", test_labels = src + "/t10k-labels-idx1-ubyte.gz";
  IdxImages train = read_idx_images(train_images);
  std::vector<uint8_t> train_y = read_idx_labels(train_labels);
  check_pair(train, train_y, train_images, train_labels);
  IdxImages test = read_idx_images(test_images);
  std::vector<uint8_t> test_y = read_idx_labels(test_labels);
  check_pair(test, test_y, test_images, test_labels);

  const size_t n_train = o.train_limit ? std::min(o.train_limit, train.count) : train.count;
  const size_t n_test = o.test_limit ? std::min(o.test_limit, test.count) : test.count;
  train_y.resize(n_train);
  const int n_sites = static_cast<int>(o.sites.size());
  auto parts = o.partition == "iid"
                   ? partition_iid(n_train, n_sites, o.seed)
                   : partition_dirichlet(train_y, kClasses, n_sites, o.alpha, o.seed, /*min_per_site=*/16);
  std::vector<size_t> test_rows(n_test);
  for (size_t i = 0; i < n_test; ++i) test_rows[i] = i;

  const bool made_dir = !fs::exists(o.out);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw Error("cannot create output directory '" + o.out + "': " + ec.message());

  // Everything under *.part first; renamed together once all are written.
  std::vector<std::pair<std::string, std::string>> written;
  auto cleanup = [&] {
    for (const auto& [part, final_path] : written) fs::remove(part, ec);
    if (made_dir) fs::remove(o.out, ec);  // only removes it if empty
  };
  std::map<std::string, std::string> attrs = {{"source", "Fashion-MNIST (" + src + ")"},
                                              {"partition", o.partition},
                                              {"seed", std::to_string(o.seed)}};
  if (o.partition == "dirichlet") attrs["alpha"] = std::to_string(o.alpha);
  std::ostringstream summary;
  try {
    for (int s = 0; s < n_sites; ++s) {
      Dataset d = to_dataset(train, train_y, parts[s]);
      const std::string path = o.out + "/train-" + o.sites[s] + ".h5";
      auto a = attrs;
      a["site"] = o.sites[s];
      write_dataset_file(path + ".part", d, kClasses, a);
      written.emplace_back(path + ".part", path);
      summary << "  " << path << ": " << d.rows << " samples, labels 0..9: " << histogram(d) << "\n";
    }
    Dataset t = to_dataset(test, test_y, test_rows);
    const std::string path = o.out + "/test.h5";
    write_dataset_file(path + ".part", t, kClasses, attrs);
    written.emplace_back(path + ".part", path);
    summary << "  " << path << ": " << t.rows << " samples\n";
    for (const auto& [part, final_path] : written) fs::rename(part, final_path);
  } catch (...) {
    cleanup();
    throw;
  }
  std::printf("fedtrain data: Fashion-MNIST, %s partition over %d sites (seed %llu%s)\n%s", o.partition.c_str(),
              n_sites, static_cast<unsigned long long>(o.seed),
              o.partition == "dirichlet" ? (", alpha " + std::to_string(o.alpha)).c_str() : "", summary.str().c_str());
  return kExitOk;
}

}  // namespace

int cmd_data(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "text") return cmd_data_text(std::vector<std::string>(args.begin() + 1, args.end()));
  DataOptions o;
  std::string sites;
  po::options_description desc("fedtrain data fashion-mnist options");
  desc.add_options()("help,h", "this help")
      ("out", po::value(&o.out), "output directory (created)")
      ("sites", po::value(&sites), "comma-separated site names, e.g. es,de")
      ("partition", po::value(&o.partition)->default_value("iid"), "iid or dirichlet (label skew)")
      ("alpha", po::value(&o.alpha)->default_value(0.5), "Dirichlet concentration; smaller is more skewed")
      ("seed", po::value(&o.seed)->default_value(1), "seed of the split")
      ("source", po::value(&o.source)->default_value(o.source), "directory of the IDX files (dataset-fashion-mnist)")
      ("train-limit", po::value(&o.train_limit)->default_value(0), "use only the first N training images (0: all)")
      ("test-limit", po::value(&o.test_limit)->default_value(0), "use only the first N test images (0: all)");
  po::positional_options_description pos;
  pos.add("dataset", 1);
  po::options_description all;
  all.add(desc).add_options()("dataset", po::value(&o.dataset));
  try {
    po::variables_map vm;
    int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(all).positional(pos).style(style).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::printf("usage: fedtrain data fashion-mnist --out DIR --sites es,de [options]\n"
                  "       fedtrain data text --out DIR --sites es,de,fr,it [options]   (see fedtrain data text --help)\n\n");
      std::cout << desc;
      return kExitOk;
    }
    if (o.dataset != "fashion-mnist")
      throw ConfigError(o.dataset.empty() ? "fedtrain data: name the dataset: fedtrain data fashion-mnist --out DIR --sites es,de"
                                          : "fedtrain data: unknown dataset '" + o.dataset + "'; supported: fashion-mnist, text");
    if (o.out.empty()) throw ConfigError("fedtrain data: --out DIR is required");
    if (sites.empty()) throw ConfigError("fedtrain data: --sites is required, e.g. --sites es,de");
    std::stringstream ss(sites);
    std::string name;
    while (std::getline(ss, name, ',')) {
      config_values::parse_name("--sites", name);
      for (const auto& s : o.sites)
        if (s == name) throw ConfigError("fedtrain data: site '" + name + "' is listed twice in --sites");
      o.sites.push_back(name);
    }
    config_values::parse_choice("--partition", o.partition, {"iid", "dirichlet"});
    if (!(o.alpha > 0.0)) throw ConfigError("fedtrain data: --alpha must be > 0 (e.g. 0.5)");
  } catch (const po::error& e) {
    return report_error(ConfigError(std::string("fedtrain data: ") + e.what()));
  } catch (const Error& e) {
    return report_error(e);
  }
  try {
    return prepare(o);
  } catch (const Error& e) {
    return report_error(e);
  } catch (const fs::filesystem_error& e) {
    return report_error(Error(e.what()));
  }
}

}  // namespace fedtrain
