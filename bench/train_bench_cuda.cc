// fedtrain bench train --device cuda: MLP training throughput on the GPU next to cuBLAS SGEMM rates.
//
// Three timings on the same GPU, in blocks of --steps (median of --repeats
// blocks, CUDA events around each block, data already on the GPU):
//   1. the training step: CudaMlp forward/backward (cuBLAS SGEMM, fused
//      kernels, softmax cross-entropy) plus the SGD-momentum kernel;
//   2. only the SGEMM calls of that step, same shapes (per layer: forward
//      (B,OC,C), weight gradient (OC,C,B), input gradient (B,C,OC) except for
//      the first layer): the rate these shapes allow;
//   3. one large square SGEMM (--peak-n): the GPU's FP32 GEMM rate.
// All FP32 without TF32 (CUBLAS_DEFAULT_MATH), as PyTorch by default. The
// step's GFLOP/s counts only its GEMM flops, so step/SGEMM is the share of the
// GEMM rate that the whole step reaches; the rest is the elementwise kernels,
// the loss, the optimizer and launch overhead. bench/torch_mlp_bench.py times
// the same model and step in PyTorch for comparison.
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "bench/bench.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/kernels.h"
#include "runtime/core/error.h"
#include "runtime/model/cuda_mlp.h"
#include "runtime/model/mlp.h"

namespace fedtrain {
namespace {

namespace k = kernels::cuda;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename T>
k::DeviceBuffer<T> upload(const std::vector<T>& host) {
  k::DeviceBuffer<T> d(host.size());
  CUDA_CHECK(cudaMemcpy(d.data(), host.data(), d.bytes(), cudaMemcpyHostToDevice));
  return d;
}

}  // namespace

int bench_train_cuda(const TrainBenchShape& shape) {
  std::string why;
  if (k::device_count(&why) == 0) throw Error("bench train --device cuda: no CUDA device (" + why + ")");
  CUDA_CHECK(cudaSetDevice(0));
  const int batch = shape.batch, steps = shape.steps;
  Mlp model(shape.input, shape.hidden, shape.classes);
  std::vector<float> host_params(model.param_count());
  model.init(host_params, 1);
  std::mt19937_64 gen(7);
  std::vector<float> hx(static_cast<size_t>(batch) * shape.input);
  std::vector<int32_t> hy(batch);
  for (float& v : hx) v = static_cast<float>(gen() >> 40) / 16777216.0f;
  for (int32_t& v : hy) v = static_cast<int32_t>(gen() % shape.classes);

  k::Stream stream;
  const cudaStream_t s = stream.get();
  CudaMlp mlp(model);
  auto params = upload(host_params);
  k::DeviceBuffer<float> grads(model.param_count()), momentum(model.param_count());
  CUDA_CHECK(cudaMemset(momentum.data(), 0, momentum.bytes()));
  auto x = upload(hx);
  auto y = upload(hy);
  k::DeviceBuffer<double> loss(1);
  k::DeviceBuffer<int64_t> correct(1);
  CUDA_CHECK(cudaMemset(loss.data(), 0, loss.bytes()));
  CUDA_CHECK(cudaMemset(correct.data(), 0, correct.bytes()));
  CUDA_CHECK(cudaDeviceSynchronize());

  // The GEMM shapes of one step, with scratch operands of the same sizes.
  std::vector<int> dims = {shape.input};
  dims.insert(dims.end(), shape.hidden.begin(), shape.hidden.end());
  dims.push_back(shape.classes);
  size_t widest = 0;
  for (int d : dims) widest = std::max(widest, static_cast<size_t>(d));
  k::DeviceBuffer<float> a(static_cast<size_t>(batch) * widest), b(static_cast<size_t>(batch) * widest);
  k::DeviceBuffer<float> w(widest * widest), c(std::max(widest * widest, static_cast<size_t>(batch) * widest));
  for (auto* buf : {&a, &b, &w, &c}) CUDA_CHECK(cudaMemset(buf->data(), 0, buf->bytes()));
  double flops_per_step = 0;
  for (size_t i = 0; i + 1 < dims.size(); ++i) flops_per_step += 2.0 * batch * dims[i] * dims[i + 1] * (i == 0 ? 2 : 3);

  k::BlasHandle blas;
  CUBLAS_CHECK(cublasSetStream(blas.get(), s));
  const float one = 1.0f, zero = 0.0f;
  auto gemm_step = [&] {
    for (size_t i = 0; i + 1 < dims.size(); ++i) {
      const int C = dims[i], OC = dims[i + 1];
      CUBLAS_CHECK(cublasSgemm(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, OC, batch, C, &one, w.data(), C, a.data(), C,
                               &zero, c.data(), OC));
      CUBLAS_CHECK(cublasSgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_T, C, OC, batch, &one, a.data(), C, b.data(), OC,
                               &zero, c.data(), C));
      if (i > 0)
        CUBLAS_CHECK(cublasSgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, C, batch, OC, &one, w.data(), C, b.data(), OC,
                                 &zero, c.data(), C));
    }
  };
  auto train_step = [&] {
    mlp.forward_backward(s, params.data(), x.data(), y.data(), batch, grads.data(), loss.data(), correct.data());
    k::sgd_step(s, params.data(), grads.data(), momentum.data(), model.param_count(), 0.05f, 0.9f, 0.0f, false);
  };
  k::Event start(true), stop(true);
  auto time_block = [&](auto&& step, int n) {
    CUDA_CHECK(cudaEventRecord(start.get(), s));
    for (int i = 0; i < n; ++i) step();
    CUDA_CHECK(cudaEventRecord(stop.get(), s));
    CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    return ms * 1e-3 / n;
  };
  time_block(train_step, steps);  // warm-up: cuBLAS picks its kernels, the GPU clocks up
  time_block(gemm_step, steps);
  std::vector<double> t_train, t_gemm;
  for (int r = 0; r < shape.repeats; ++r) {
    t_train.push_back(time_block(train_step, steps));
    t_gemm.push_back(time_block(gemm_step, steps));
  }

  // The GPU's FP32 GEMM rate: one large square SGEMM.
  const int n = shape.peak_n;
  k::DeviceBuffer<float> pa(static_cast<size_t>(n) * n), pb(static_cast<size_t>(n) * n), pc(static_cast<size_t>(n) * n);
  CUDA_CHECK(cudaMemset(pa.data(), 0, pa.bytes()));
  CUDA_CHECK(cudaMemset(pb.data(), 0, pb.bytes()));
  auto big_gemm = [&] {
    CUBLAS_CHECK(cublasSgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, pa.data(), n, pb.data(), n, &zero,
                             pc.data(), n));
  };
  time_block(big_gemm, 2);
  std::vector<double> t_peak;
  for (int r = 0; r < shape.repeats; ++r) t_peak.push_back(time_block(big_gemm, 3));

  const double train_s = median(t_train), gemm_s = median(t_gemm), peak_s = median(t_peak);
  const double peak_gflops = 2.0 * n * double(n) * n / peak_s / 1e9;
  std::string net = std::to_string(shape.input);
  for (int h : shape.hidden) net += "-" + std::to_string(h);
  net += "-" + std::to_string(shape.classes);
  std::printf("# fedtrain bench train --device cuda: MLP %s, batch %d, SGD momentum, FP32 (no TF32), %s, "
              "median of %d blocks of %d steps\n",
              net.c_str(), batch, k::describe_current_device().c_str(), shape.repeats, steps);
  std::printf("%-34s %14s %12s %12s\n", "#", "samples/s", "ms/step", "GFLOP/s");
  std::printf("%-34s %14.0f %12.4f %12.1f\n", "training step (fedtrain)", batch / train_s, train_s * 1e3,
              flops_per_step / train_s / 1e9);
  std::printf("%-34s %14.0f %12.4f %12.1f\n", "cuBLAS SGEMM only, same shapes", batch / gemm_s, gemm_s * 1e3,
              flops_per_step / gemm_s / 1e9);
  char label[64];
  std::snprintf(label, sizeof label, "cuBLAS SGEMM %dx%dx%d", n, n, n);
  std::printf("%-34s %14s %12.4f %12.1f\n", label, "-", peak_s * 1e3, peak_gflops);
  std::printf("# training reaches %.1f%% of the SGEMM rate of its own shapes and %.1f%% of the GPU's FP32 GEMM rate\n",
              100.0 * gemm_s / train_s, 100.0 * (flops_per_step / train_s / 1e9) / peak_gflops);
  return kExitOk;
}

}  // namespace fedtrain
