// Every CUDA kernel against its CPU twin on fresh random inputs (skipped without a GPU).
//
// Outputs are poisoned (NaN) before each kernel runs, so an element the kernel
// fails to write fails the comparison. Tolerances are atol + rtol*|ref|;
// quantize and dequantize must match bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cuda/kernels.h"
#include "tests/cuda/gpu_test.h"

namespace fedtrain::kernels {
namespace {

using testing::all_close;
using testing::poisoned;
using testing::to_device;
using testing::to_host;

std::vector<float> uniform(size_t n, float lo, float hi, std::mt19937_64& gen) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

struct Shape {
  int B, C, OC;
};
// Odd sizes catch boundary bugs; 64x784x256 is the first layer of the demo MLP.
const Shape kShapes[] = {{1, 1, 1}, {37, 131, 67}, {64, 784, 256}, {129, 256, 10}};

class CudaKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    FEDTRAIN_REQUIRE_GPU();
    seed_ = testing::fresh_seed();
    gen_.seed(seed_);
    RecordProperty("seed", std::to_string(seed_));
    stream_.emplace();  // only now: creating either needs a device
    blas_.emplace();
  }
  cudaStream_t stream() const { return stream_->get(); }
  cublasHandle_t blas() const { return blas_->get(); }

  uint64_t seed_ = 0;
  std::mt19937_64 gen_;
  std::optional<cuda::Stream> stream_;
  std::optional<cuda::BlasHandle> blas_;
};

TEST_F(CudaKernels, LinearForwardMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : kShapes) {
    SCOPED_TRACE("B=" + std::to_string(s.B) + " C=" + std::to_string(s.C) + " OC=" + std::to_string(s.OC));
    const float bound = 1.0f / std::sqrt(static_cast<float>(s.C));
    auto inp = uniform(size_t(s.B) * s.C, 0.0f, 1.0f, gen_);
    auto w = uniform(size_t(s.OC) * s.C, -bound, bound, gen_);
    auto b = uniform(s.OC, -bound, bound, gen_);
    auto d_inp = to_device(inp), d_w = to_device(w), d_b = to_device(b);
    for (cpu::Activation act : {cpu::Activation::kNone, cpu::Activation::kRelu}) {
      std::vector<float> ref(size_t(s.B) * s.OC);
      cpu::linear_forward(ref.data(), inp.data(), w.data(), b.data(), s.B, s.C, s.OC, act);
      auto d_out = poisoned<float>(ref.size());
      cuda::linear_forward(blas(), stream(), d_out.data(), d_inp.data(), d_w.data(), d_b.data(), s.B, s.C,
                           s.OC, act);
      EXPECT_TRUE(all_close(to_host(d_out), ref, 5e-5, 1e-4)) << "act " << static_cast<int>(act);
    }
  }
}

TEST_F(CudaKernels, LinearBackwardMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : kShapes) {
    SCOPED_TRACE("B=" + std::to_string(s.B) + " C=" + std::to_string(s.C) + " OC=" + std::to_string(s.OC));
    const float bound = 1.0f / std::sqrt(static_cast<float>(s.C));
    auto inp = uniform(size_t(s.B) * s.C, 0.0f, 1.0f, gen_);
    auto w = uniform(size_t(s.OC) * s.C, -bound, bound, gen_);
    auto dout = uniform(size_t(s.B) * s.OC, -1.0f / s.B, 1.0f / s.B, gen_);
    std::vector<float> dinp(size_t(s.B) * s.C), dw(w.size()), db(s.OC);
    cpu::linear_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), s.B, s.C, s.OC);
    auto d_inp = to_device(inp), d_w = to_device(w), d_dout = to_device(dout);
    for (bool with_dinp : {true, false}) {
      auto d_dinp = poisoned<float>(dinp.size()), d_dw = poisoned<float>(dw.size()), d_db = poisoned<float>(db.size());
      cuda::linear_backward(blas(), stream(), with_dinp ? d_dinp.data() : nullptr, d_dw.data(), d_db.data(),
                            d_dout.data(), d_inp.data(), d_w.data(), s.B, s.C, s.OC);
      EXPECT_TRUE(all_close(to_host(d_dw), dw, 1e-6, 1e-4)) << "dweight";
      EXPECT_TRUE(all_close(to_host(d_db), db, 1e-6, 1e-4)) << "dbias";
      if (with_dinp) {
        EXPECT_TRUE(all_close(to_host(d_dinp), dinp, 1e-6, 1e-4)) << "dinp";
      }
    }
  }
}

TEST_F(CudaKernels, ReluBackwardMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const size_t n = 100003;
  auto d = uniform(n, -1, 1, gen_), out = uniform(n, -1, 1, gen_);
  for (size_t i = 0; i < n; i += 7) out[i] = 0.0f;  // exactly zero: the gradient is cut
  auto d_d = to_device(d), d_out = to_device(out);
  cpu::relu_backward(d.data(), out.data(), n);
  cuda::relu_backward(stream(), d_d.data(), d_out.data(), n);
  EXPECT_TRUE(all_close(to_host(d_d), d, 0, 0));
}

TEST_F(CudaKernels, SoftmaxCrossEntropyMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (auto [B, V] : {std::pair{1, 2}, {64, 10}, {333, 10}, {50, 100}, {7, 1000}}) {
    SCOPED_TRACE("B=" + std::to_string(B) + " V=" + std::to_string(V));
    auto logits = uniform(size_t(B) * V, -4.0f, 4.0f, gen_);
    logits[0] = 60.0f;                        // a large logit stays finite (max subtracted)
    if (V > 3) logits[size_t(B - 1) * V + 2] = logits[size_t(B - 1) * V + 3] = 9.0f;  // a tie: the first index wins
    std::vector<int32_t> labels(B);
    for (int32_t& y : labels) y = static_cast<int32_t>(gen_() % V);
    std::vector<float> dref(logits.size());
    int correct = -1;
    const double loss = cpu::softmax_xent(dref.data(), &correct, logits.data(), labels.data(), B, V);

    auto d_logits = to_device(logits);
    auto d_labels = to_device(labels);
    auto d_dlogits = poisoned<float>(logits.size());
    auto d_row_loss = poisoned<double>(B);
    auto d_row_hit = poisoned<int32_t>(B, 0x7F);
    std::vector<double> acc_init = {1.5};  // accumulates onto what is there
    std::vector<int64_t> hits_init = {3};
    auto d_loss = to_device(acc_init);
    auto d_hits = to_device(hits_init);
    cuda::softmax_xent(stream(), d_dlogits.data(), d_row_loss.data(), d_row_hit.data(), d_logits.data(),
                       d_labels.data(), B, V);
    cuda::accumulate_rows(stream(), d_loss.data(), d_hits.data(), d_row_loss.data(), d_row_hit.data(), B);
    EXPECT_TRUE(all_close(to_host(d_dlogits), dref, 1e-7, 1e-5));
    EXPECT_NEAR(to_host(d_loss)[0] - 1.5, loss, 1e-9 * (1 + std::abs(loss)));
    EXPECT_EQ(to_host(d_hits)[0] - 3, correct);

    // Without the gradient: same loss, dlogits left alone.
    auto d_untouched = poisoned<float>(4);
    cuda::softmax_xent(stream(), nullptr, d_row_loss.data(), d_row_hit.data(), d_logits.data(), d_labels.data(),
                       B, V);
    std::vector<double> zero = {0.0};
    std::vector<int64_t> zero_hits = {0};
    auto d_loss2 = to_device(zero);
    auto d_hits2 = to_device(zero_hits);
    cuda::accumulate_rows(stream(), d_loss2.data(), d_hits2.data(), d_row_loss.data(), d_row_hit.data(), B);
    EXPECT_NEAR(to_host(d_loss2)[0], loss, 1e-9 * (1 + std::abs(loss)));
    EXPECT_EQ(to_host(d_hits2)[0], correct);
  }
}

TEST_F(CudaKernels, SgdStepsMatchCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const size_t n = 235146;  // the demo MLP's parameter count
  struct Case {
    float momentum, weight_decay;
    bool nesterov;
  };
  for (Case c : {Case{0.0f, 0.0f, false}, Case{0.9f, 0.0f, false}, Case{0.9f, 0.01f, true}}) {
    SCOPED_TRACE("momentum " + std::to_string(c.momentum) + " nesterov " + std::to_string(c.nesterov));
    auto p = uniform(n, -0.1f, 0.1f, gen_);
    std::vector<float> buf(n, 0.0f);
    auto d_p = to_device(p), d_buf = to_device(buf);
    for (int step = 0; step < 5; ++step) {
      auto g = uniform(n, -1, 1, gen_);
      auto d_g = to_device(g);
      cpu::sgd_step(p.data(), g.data(), buf.data(), n, 0.05f, c.momentum, c.weight_decay, c.nesterov);
      cuda::sgd_step(stream(), d_p.data(), d_g.data(), d_buf.data(), n, 0.05f, c.momentum, c.weight_decay,
                     c.nesterov);
    }
    EXPECT_TRUE(all_close(to_host(d_p), p, 1e-6, 1e-5));
    if (c.momentum != 0.0f) {
      EXPECT_TRUE(all_close(to_host(d_buf), buf, 1e-6, 1e-5));
    }
  }
}

TEST_F(CudaKernels, AdamWStepsMatchCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const size_t n = 100003;
  auto p = uniform(n, -0.1f, 0.1f, gen_);
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  auto d_p = to_device(p), d_m = to_device(m), d_v = to_device(v);
  for (int64_t step = 1; step <= 5; ++step) {
    auto g = uniform(n, -1, 1, gen_);
    auto d_g = to_device(g);
    cpu::adamw_step(p.data(), g.data(), m.data(), v.data(), n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
    cuda::adamw_step(stream(), d_p.data(), d_g.data(), d_m.data(), d_v.data(), n, 1e-3f, 0.9f, 0.999f, 1e-8f,
                     0.01f, step);
  }
  EXPECT_TRUE(all_close(to_host(d_p), p, 1e-6, 1e-5));
  EXPECT_TRUE(all_close(to_host(d_m), m, 1e-6, 1e-5));
  EXPECT_TRUE(all_close(to_host(d_v), v, 1e-7, 1e-5));
}

TEST_F(CudaKernels, PseudoGradientAndScaleMatchCpuExactly) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const size_t n = 235146;
  auto global = uniform(n, -1, 1, gen_), local = uniform(n, -1, 1, gen_);
  std::vector<float> delta(n);
  cpu::pseudo_gradient(delta.data(), global.data(), local.data(), n);
  auto d_global = to_device(global), d_local = to_device(local);
  auto d_delta = poisoned<float>(n);
  cuda::pseudo_gradient(stream(), d_delta.data(), d_global.data(), d_local.data(), n);
  EXPECT_TRUE(all_close(to_host(d_delta), delta, 0, 0));  // one IEEE subtraction: the same bits
  cpu::scale(delta.data(), n, 0.25f);
  cuda::scale(stream(), d_delta.data(), n, 0.25f);
  EXPECT_TRUE(all_close(to_host(d_delta), delta, 0, 0));
}

TEST_F(CudaKernels, QuantizeAndDequantizeAreBitIdenticalToCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const size_t n = 1000003;
  auto x = uniform(n, -0.7f, 0.7f, gen_);  // some beyond the clip of 0.5
  x[1] = 0.0f;
  x[2] = -0.5f;
  const float clip = 0.5f;
  const double scale = 0.37 * 1048576.0;  // site weight * 2^20
  const uint64_t qseed = gen_(), offset = gen_() % (uint64_t{1} << 40);
  std::vector<uint32_t> q(n);
  cpu::quantize(q.data(), x.data(), n, clip, scale, qseed, offset);
  auto d_x = to_device(x);
  auto d_q = poisoned<uint32_t>(n, 0xA5);  // 0xA5A5A5A5 is far outside +-clip*scale
  cuda::quantize(stream(), d_q.data(), d_x.data(), n, clip, scale, qseed, offset);
  const auto got = to_host(d_q);
  size_t mismatches = 0, first = n;
  for (size_t i = 0; i < n; ++i)
    if (got[i] != q[i]) mismatches += 1, first = std::min(first, i);
  EXPECT_EQ(mismatches, 0u) << "first at " << first << ": GPU " << static_cast<int32_t>(got[first]) << ", CPU "
                            << static_cast<int32_t>(q[first]);

  std::vector<float> back(n);
  cpu::dequantize(back.data(), q.data(), n, 1.0 / scale);
  auto d_back = poisoned<float>(n);
  cuda::dequantize(stream(), d_back.data(), d_q.data(), n, 1.0 / scale);
  const auto got_back = to_host(d_back);
  EXPECT_EQ(std::memcmp(got_back.data(), back.data(), n * sizeof(float)), 0);
}

}  // namespace
}  // namespace fedtrain::kernels
