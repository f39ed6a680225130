// fedtrain generate: a continuation of a prompt by the GPT of a checkpoint, so a person can read what the federation learned.
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>

#include "launch/commands.h"
#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/core/error.h"
#include "runtime/io/guarded_read.h"
#include "runtime/data/utf8.h"
#include "runtime/model/gpt.h"

namespace po = boost::program_options;

namespace fedtrain {
namespace {

const char* kGenerateUsage =
    "usage: fedtrain generate --checkpoint FILE --prompt TEXT [--bytes N] [--temperature X] [--seed S]\n"
    "Prints TEXT and N bytes (default 200) that the GPT of checkpoint FILE continues it with, sampled\n"
    "at temperature X (default 0.8; 0 picks the likeliest byte) with seed S. No MPI; exit 2 on bad usage\n"
    "or a checkpoint of another model kind, 1 on a damaged checkpoint.\n";

// The GPT's shape from the [model] section of the config a checkpoint was written with.
GptShape shape_from_config(const std::string& config_text, const std::string& path) {
  po::options_description keys;
  keys.add_options()("model.kind", po::value<std::string>())("model.layers", po::value<int>())(
      "model.heads", po::value<int>())("model.dim", po::value<int>())("model.context", po::value<int>());
  std::istringstream in(config_text);
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(in, keys, /*allow_unregistered=*/true), vm);
  } catch (const po::error& e) {
    throw Error("checkpoint '" + path + "': its config does not parse: " + e.what());
  }
  if (!vm.count("model.kind") || vm["model.kind"].as<std::string>() != "gpt")
    throw ConfigError("checkpoint '" + path + "' holds " +
                      (vm.count("model.kind") ? "a model.kind = " + vm["model.kind"].as<std::string>() : "an MLP") +
                      " model; 'fedtrain generate' needs a checkpoint of a model.kind = gpt run");
  for (const char* k : {"model.layers", "model.heads", "model.dim", "model.context"})
    if (!vm.count(k)) throw Error("checkpoint '" + path + "': its config lacks " + std::string(k));
  return GptShape{vm["model.layers"].as<int>(), vm["model.heads"].as<int>(), vm["model.dim"].as<int>(),
                  vm["model.context"].as<int>()};
}

int sample(const std::vector<float>& logits, double temperature, std::mt19937_64& gen) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(logits.size()); ++i)
    if (logits[i] > logits[best]) best = i;
  if (temperature <= 0.0) return best;
  std::vector<double> p(logits.size());
  double sum = 0.0;
  for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp((logits[i] - logits[best]) / temperature);
  double u = std::uniform_real_distribution<double>(0.0, sum)(gen);
  for (size_t i = 0; i < p.size(); ++i)
    if ((u -= p[i]) <= 0.0) return static_cast<int>(i);
  return best;
}

}  // namespace

int cmd_generate(const std::vector<std::string>& args) {
  po::options_description opts("fedtrain generate options");
  opts.add_options()("help,h", "this help")("checkpoint", po::value<std::string>(), "checkpoint file (round-NNNNNN.h5)")(
      "prompt", po::value<std::string>(), "UTF-8 text to continue")("bytes", po::value<int>()->default_value(200),
                                                                     "bytes to generate")(
      "temperature", po::value<double>()->default_value(0.8), "sampling temperature (0: greedy)")(
      "seed", po::value<uint64_t>()->default_value(1), "seed of the sampling");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "fedtrain generate: %s\n%s", e.what(), kGenerateUsage);
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::fputs(kGenerateUsage, stdout);
    return kExitOk;
  }
  if (!vm.count("checkpoint") || !vm.count("prompt") || vm["bytes"].as<int>() < 0 ||
      vm["temperature"].as<double>() < 0) {
    std::fprintf(stderr, "fedtrain generate: give --checkpoint FILE and --prompt TEXT (--bytes >= 0, --temperature >= 0)\n%s",
                 kGenerateUsage);
    return kExitUsage;
  }
  const std::string path = vm["checkpoint"].as<std::string>(), prompt = vm["prompt"].as<std::string>();
  try {
    if (prompt.empty()) throw ConfigError("--prompt is empty: give the text to continue");
    if (const auto bad = find_invalid_utf8(prompt))
      throw ConfigError("--prompt is not valid UTF-8 at byte " + std::to_string(bad->offset));
    // Read in a child first: a checkpoint from elsewhere may be one that crashes libhdf5.
    const Checkpoint ckpt = read_guarded("checkpoint '" + path + "'", "give a checkpoint written by 'fedtrain run'",
                                         [&] { return read_checkpoint_file(path); });
    Gpt model(shape_from_config(ckpt.config_text, path));
    if (layout_text(model.layout()) != ckpt.model_layout)
      throw Error("checkpoint '" + path + "': its tensors do not match the GPT its config describes");
    std::vector<uint8_t> text(prompt.begin(), prompt.end());
    std::mt19937_64 gen(vm["seed"].as<uint64_t>());
    const int T = model.shape().context;
    for (int i = 0; i < vm["bytes"].as<int>(); ++i) {
      const int n = std::min<int>(T, static_cast<int>(text.size()));
      const auto logits = model.next_logits(ckpt.model, text.data() + text.size() - n, n);
      text.push_back(static_cast<uint8_t>(sample(logits, vm["temperature"].as<double>(), gen)));
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    return kExitOk;
  } catch (const Error& e) {
    std::fprintf(stderr, "fedtrain generate: error: %s\n", e.what());
    return e.exit_code();
  }
}

}  // namespace fedtrain
