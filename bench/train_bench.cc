// fedtrain bench train: MLP training throughput next to the sgemm rate of the same GEMM shapes.
//
// Blocks of --steps training steps (batch, forward, backward, optimizer step)
// alternate with blocks of only the sgemm calls those steps make (per layer:
// forward (B,OC,C), weight gradient (OC,C,B), input gradient (B,C,OC) except
// for the first layer), on the same buffers, so both see the same machine.
// The ratio is the share of the pure-GEMM rate that training reaches: what is
// left is the elementwise work, the loss and the optimizer.
#include <cblas.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <vector>

#include "bench/bench.h"
#include "fedtrain/features.h"
#include "runtime/core/config.h"
#include "runtime/core/config_values.h"
#include "runtime/core/error.h"
#include "runtime/model/inner_optimizer.h"
#include "runtime/model/mlp.h"

namespace po = boost::program_options;

namespace fedtrain {
int bench_train(const std::vector<std::string>& args) {
  std::string hidden_s = "1024,1024";
  int batch = 128, input = 784, classes = 10, steps = 20, repeats = 7, threads = 1, peak_n = 8192;
  std::string device = "cpu", model_kind = "mlp";
  GptShape gpt;
  po::options_description desc("fedtrain bench train options");
  desc.add_options()("help,h", "this help")
      ("model", po::value(&model_kind)->default_value(model_kind), "mlp or gpt")
      ("layers", po::value(&gpt.layers)->default_value(gpt.layers), "gpt: blocks")
      ("heads", po::value(&gpt.heads)->default_value(gpt.heads), "gpt: attention heads")
      ("dim", po::value(&gpt.dim)->default_value(gpt.dim), "gpt: model width")
      ("context", po::value(&gpt.context)->default_value(gpt.context), "gpt: context length (bytes)")
      ("hidden", po::value(&hidden_s)->default_value(hidden_s), "hidden layer widths")
      ("batch", po::value(&batch)->default_value(batch), "batch size")
      ("input", po::value(&input)->default_value(input), "input features")
      ("classes", po::value(&classes)->default_value(classes), "classes")
      ("steps", po::value(&steps)->default_value(steps), "steps per timed block")
      ("repeats", po::value(&repeats)->default_value(repeats), "timed blocks of each kind (median reported)")
      ("threads", po::value(&threads)->default_value(threads), "OpenBLAS threads")
      ("device", po::value(&device)->default_value(device), "cpu, or cuda (GPU 0: cuBLAS + CUDA kernels)")
      ("peak-n", po::value(&peak_n)->default_value(peak_n), "cuda: size of the square SGEMM that measures the GPU's FP32 rate");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string("bench train: ") + e.what());
  }
  if (vm.count("help")) {
    std::printf("usage: fedtrain bench train [options]\n\n");
    std::cout << desc;
    return kExitOk;
  }
  if (model_kind == "gpt") {
    if (device != "cpu") throw ConfigError("bench train --model gpt: the GPT trains on the CPU (--device cpu)");
    if (gpt.layers < 1 || gpt.heads < 1 || gpt.dim < 1 || gpt.context < 1 || gpt.dim % gpt.heads != 0 || batch < 1 ||
        steps < 1 || repeats < 1 || threads < 1)
      throw ConfigError("bench train --model gpt: --layers, --heads, --dim, --context, --batch, --steps, --repeats and "
                        "--threads must be >= 1, and --dim a multiple of --heads");
    return bench_train_gpt(gpt, batch, steps, repeats, threads);
  }
  if (model_kind != "mlp") throw ConfigError("bench train: --model must be mlp or gpt, not '" + model_kind + "'");
  const std::vector<int> hidden = config_values::parse_int_list("--hidden", hidden_s, 1, 1 << 16);
  if (batch < 1 || input < 1 || classes < 2 || steps < 1 || repeats < 1 || threads < 1)
    throw ConfigError("bench train: --batch, --input, --steps, --repeats, --threads must be >= 1 and --classes >= 2");
  if (device == "cuda") {
#if FEDTRAIN_WITH_CUDA
    if (peak_n < 1) throw ConfigError("bench train: --peak-n must be >= 1");
    TrainBenchShape shape;
    shape.hidden = hidden;
    shape.batch = batch, shape.input = input, shape.classes = classes, shape.steps = steps, shape.repeats = repeats;
    shape.peak_n = peak_n;
    return bench_train_cuda(shape);
#else
    throw ConfigError("bench train --device cuda: this fedtrain was built without CUDA");
#endif
  }
  if (device != "cpu") throw ConfigError("bench train: --device must be cpu or cuda, not '" + device + "'");
  openblas_set_num_threads(threads);

  Mlp model(input, hidden, classes);
  std::vector<float> params(model.param_count()), grads(model.param_count());
  model.init(params, 1);
  InnerOptimizerConfig opt_cfg;
  InnerOptimizer opt(opt_cfg, model.layout());
  std::mt19937_64 gen(7);
  std::vector<float> x(static_cast<size_t>(batch) * input);
  std::vector<int32_t> y(batch);
  for (float& v : x) v = static_cast<float>(gen() >> 40) / 16777216.0f;
  for (int32_t& v : y) v = static_cast<int32_t>(gen() % classes);

  // The GEMM shapes of one step, with scratch operands of the same sizes.
  std::vector<int> dims = {input};
  dims.insert(dims.end(), hidden.begin(), hidden.end());
  dims.push_back(classes);
  size_t widest = 0;
  for (int d : dims) widest = std::max(widest, static_cast<size_t>(d));
  std::vector<float> a(static_cast<size_t>(batch) * widest, 0.5f), b(static_cast<size_t>(batch) * widest, 0.5f);
  std::vector<float> w(widest * widest, 0.01f), c(std::max(widest * widest, static_cast<size_t>(batch) * widest));
  double flops_per_step = 0;
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    const double mnk = 2.0 * batch * dims[i] * dims[i + 1];
    flops_per_step += mnk * (i == 0 ? 2 : 3);
  }
  auto gemm_step = [&] {
    for (size_t i = 0; i + 1 < dims.size(); ++i) {
      const int C = dims[i], OC = dims[i + 1];
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, OC, C, 1.0f, a.data(), C, w.data(), C, 0.0f, c.data(), OC);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, batch, 1.0f, b.data(), OC, a.data(), C, 0.0f, c.data(), C);
      if (i > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, C, OC, 1.0f, b.data(), OC, w.data(), C, 0.0f, c.data(), C);
    }
  };
  auto train_step = [&] {
    model.forward_backward(params, Batch{batch, x.data(), y.data()}, grads);
    opt.step(params, grads);
  };

  const auto [train_s, gemm_s] = alternate_blocks(train_step, gemm_step, steps, repeats);
  std::string shape = std::to_string(input);
  for (int h : hidden) shape += "-" + std::to_string(h);
  shape += "-" + std::to_string(classes);
  std::printf("# fedtrain bench train: MLP %s, batch %d, SGD momentum, %d OpenBLAS thread(s), median of %d blocks of %d steps\n",
              shape.c_str(), batch, threads, repeats, steps);
  std::printf("%-28s %14s %12s %12s\n", "#", "samples/s", "ms/step", "GFLOP/s");
  std::printf("%-28s %14.0f %12.3f %12.1f\n", "training step (fedtrain)", batch / train_s, train_s * 1e3,
              flops_per_step / train_s / 1e9);
  std::printf("%-28s %14.0f %12.3f %12.1f\n", "sgemm only, same shapes", batch / gemm_s, gemm_s * 1e3,
              flops_per_step / gemm_s / 1e9);
  std::printf("# training reaches %.1f%% of the sgemm rate of its own shapes\n", 100.0 * gemm_s / train_s);
  return kExitOk;
}

}  // namespace fedtrain
