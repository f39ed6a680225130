// Every GPT CUDA kernel against its CPU twin on fresh random inputs (skipped without a GPU).
//
// Forward outputs are poisoned (NaN) before the kernel runs, so an element it fails to write fails the
// comparison. Gradient outputs start at the same small random values on both sides, which checks that the
// GPU accumulates (+=) as the CPU does. Tolerances are atol + rtol*|ref|. The reductions are run twice
// where the header promises a deterministic order, and must give the same bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gpt_kernels.h"
#include "kernels/cuda/gpt_kernels.h"
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

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Shape {
  int B, T, C, H, V;
};
// Tiny, odd (T = 67: not a multiple of a warp; hs = 24), the demo model's width, and a longer T.
const Shape kShapes[] = {{1, 1, 4, 1, 3}, {2, 5, 8, 2, 11}, {3, 67, 96, 4, 256}, {2, 256, 128, 4, 256},
                         {1, 300, 48, 2, 256}};

std::string describe(const Shape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " C=" + std::to_string(s.C) +
         " H=" + std::to_string(s.H) + " V=" + std::to_string(s.V);
}

class CudaGptKernels : public ::testing::Test {
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
  // Gradient buffers start here on both sides.
  std::vector<float> start(size_t n) { return uniform(n, -0.1f, 0.1f, gen_); }

  uint64_t seed_ = 0;
  std::mt19937_64 gen_;
  std::optional<cuda::Stream> stream_;
  std::optional<cuda::BlasHandle> blas_;
};

TEST_F(CudaGptKernels, EmbeddingMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(describe(s));
    const size_t N = size_t(s.B) * s.T;
    std::vector<int32_t> tokens(N);
    for (int32_t& t : tokens) t = static_cast<int32_t>(gen_() % s.V);
    auto wte = uniform(size_t(s.V) * s.C, -1, 1, gen_), wpe = uniform(size_t(s.T) * s.C, -1, 1, gen_);
    std::vector<float> out(N * s.C);
    cpu::embedding_forward(out.data(), tokens.data(), wte.data(), wpe.data(), s.B, s.T, s.C);
    auto d_tokens = to_device(tokens);
    auto d_wte = to_device(wte), d_wpe = to_device(wpe);
    auto d_out = poisoned<float>(out.size());
    cuda::embedding_forward(stream(), d_out.data(), d_tokens.data(), d_wte.data(), d_wpe.data(), s.B, s.T, s.C);
    EXPECT_TRUE(all_close(to_host(d_out), out, 0, 0));  // one addition: the same bits

    auto dout = uniform(out.size(), -1, 1, gen_);
    auto dwte = start(wte.size()), dwpe = start(wpe.size());
    auto d_dout = to_device(dout);
    std::vector<std::vector<float>> runs_wte, runs_wpe;
    for (int run = 0; run < 2; ++run) {
      auto d_dwte = to_device(dwte), d_dwpe = to_device(dwpe);
      cuda::embedding_backward(stream(), d_dwte.data(), d_dwpe.data(), d_dout.data(), d_tokens.data(), s.B, s.T, s.C,
                               s.V);
      runs_wte.push_back(to_host(d_dwte));
      runs_wpe.push_back(to_host(d_dwpe));
    }
    cpu::embedding_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), s.B, s.T, s.C, s.V);
    EXPECT_TRUE(all_close(runs_wte[0], dwte, 1e-5, 1e-5)) << "dwte";
    EXPECT_TRUE(all_close(runs_wpe[0], dwpe, 1e-5, 1e-5)) << "dwpe";
    EXPECT_TRUE(same_bits(runs_wte[0], runs_wte[1])) << "dwte differs between two runs";
    EXPECT_TRUE(same_bits(runs_wpe[0], runs_wpe[1])) << "dwpe differs between two runs";
  }
}

TEST_F(CudaGptKernels, LayerNormMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(describe(s));
    const int N = s.B * s.T, C = s.C;
    auto inp = uniform(size_t(N) * C, -2, 3, gen_), w = uniform(C, 0.5f, 1.5f, gen_), b = uniform(C, -1, 1, gen_);
    std::vector<float> out(inp.size()), mean(N), rstd(N);
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
    auto d_inp = to_device(inp), d_w = to_device(w), d_b = to_device(b);
    auto d_out = poisoned<float>(out.size()), d_mean = poisoned<float>(N), d_rstd = poisoned<float>(N);
    cuda::layernorm_forward(stream(), d_out.data(), d_mean.data(), d_rstd.data(), d_inp.data(), d_w.data(), d_b.data(),
                            N, C);
    EXPECT_TRUE(all_close(to_host(d_out), out, 1e-5, 1e-5)) << "out";
    EXPECT_TRUE(all_close(to_host(d_mean), mean, 1e-6, 1e-5)) << "mean";
    EXPECT_TRUE(all_close(to_host(d_rstd), rstd, 1e-6, 1e-5)) << "rstd";

    // Backward from the CPU's saved statistics on both sides, so only the backward pass is compared.
    auto dout = uniform(out.size(), -1, 1, gen_);
    auto dinp = start(inp.size()), dw = start(C), db = start(C);
    auto d_dout = to_device(dout), d_mean_ref = to_device(mean), d_rstd_ref = to_device(rstd);
    std::vector<std::vector<float>> runs;
    for (int run = 0; run < 2; ++run) {
      auto d_dinp = to_device(dinp), d_dw = to_device(dw), d_db = to_device(db);
      cuda::layernorm_backward(stream(), d_dinp.data(), d_dw.data(), d_db.data(), d_dout.data(), d_inp.data(),
                               d_w.data(), d_mean_ref.data(), d_rstd_ref.data(), N, C);
      runs.push_back(to_host(d_dinp));
      runs.push_back(to_host(d_dw));
      runs.push_back(to_host(d_db));
    }
    cpu::layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), mean.data(),
                            rstd.data(), N, C);
    EXPECT_TRUE(all_close(runs[0], dinp, 1e-5, 1e-4)) << "dinp";
    EXPECT_TRUE(all_close(runs[1], dw, 1e-4, 1e-4)) << "dweight";
    EXPECT_TRUE(all_close(runs[2], db, 1e-4, 1e-4)) << "dbias";
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(same_bits(runs[i], runs[3 + i])) << "output " << i << " differs between runs";
  }
}

TEST_F(CudaGptKernels, MatmulMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  struct Mm {
    int N, C, OC;
  };
  // qkv of the demo model (N = 512 rows of 128 -> 384), the MLP's down projection, the tied output layer, odd.
  for (Mm s : {Mm{1, 1, 1}, Mm{512, 128, 384}, Mm{512, 512, 128}, Mm{300, 48, 256}, Mm{37, 131, 67}}) {
    SCOPED_TRACE("N=" + std::to_string(s.N) + " C=" + std::to_string(s.C) + " OC=" + std::to_string(s.OC));
    const float bound = 1.0f / std::sqrt(static_cast<float>(s.C));
    auto inp = uniform(size_t(s.N) * s.C, -1, 1, gen_);
    auto w = uniform(size_t(s.OC) * s.C, -bound, bound, gen_), b = uniform(s.OC, -bound, bound, gen_);
    auto d_inp = to_device(inp), d_w = to_device(w), d_b = to_device(b);
    for (bool with_bias : {true, false}) {
      SCOPED_TRACE(with_bias ? "with bias" : "without bias");
      std::vector<float> out(size_t(s.N) * s.OC);
      cpu::matmul_forward(out.data(), inp.data(), w.data(), with_bias ? b.data() : nullptr, s.N, s.C, s.OC);
      auto d_out = poisoned<float>(out.size());
      cuda::matmul_forward(blas(), stream(), d_out.data(), d_inp.data(), d_w.data(), with_bias ? d_b.data() : nullptr,
                           s.N, s.C, s.OC);
      EXPECT_TRUE(all_close(to_host(d_out), out, 1e-5, 1e-4)) << "out";

      auto dout = uniform(out.size(), -1, 1, gen_);
      auto dinp = start(inp.size()), dw = start(w.size()), db = start(s.OC);
      auto d_dout = to_device(dout);
      auto d_dinp = to_device(dinp), d_dw = to_device(dw), d_db = to_device(db);
      // Without bias the dinp pointer is dropped too: both optional outputs skipped.
      cuda::matmul_backward(blas(), stream(), with_bias ? d_dinp.data() : nullptr, d_dw.data(),
                            with_bias ? d_db.data() : nullptr, d_dout.data(), d_inp.data(), d_w.data(), s.N, s.C, s.OC);
      const auto db_before = db, dinp_before = dinp;
      cpu::matmul_backward(with_bias ? dinp.data() : nullptr, dw.data(), with_bias ? db.data() : nullptr, dout.data(),
                           inp.data(), w.data(), s.N, s.C, s.OC);
      EXPECT_TRUE(all_close(to_host(d_dw), dw, 1e-4, 1e-4)) << "dweight";
      EXPECT_TRUE(all_close(to_host(d_db), db, 1e-4, 1e-4)) << "dbias";
      EXPECT_TRUE(all_close(to_host(d_dinp), dinp, 1e-5, 1e-4)) << "dinp";
      if (!with_bias) {
        EXPECT_TRUE(same_bits(to_host(d_db), db_before)) << "dbias written although null was passed";
        EXPECT_TRUE(same_bits(to_host(d_dinp), dinp_before)) << "dinp written although null was passed";
      }
    }
  }
}

TEST_F(CudaGptKernels, GeluMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const size_t n = 1000003;
  auto inp = uniform(n, -6, 6, gen_);
  inp[0] = 0.0f;
  inp[1] = -30.0f;
  inp[2] = 30.0f;
  std::vector<float> out(n);
  cpu::gelu_forward(out.data(), inp.data(), n);
  auto d_inp = to_device(inp);
  auto d_out = poisoned<float>(n);
  cuda::gelu_forward(stream(), d_out.data(), d_inp.data(), n);
  EXPECT_TRUE(all_close(to_host(d_out), out, 1e-6, 1e-5)) << "out";

  auto dout = uniform(n, -1, 1, gen_), dinp = start(n);
  auto d_dout = to_device(dout), d_dinp = to_device(dinp);
  cuda::gelu_backward(stream(), d_dinp.data(), d_inp.data(), d_dout.data(), n);
  cpu::gelu_backward(dinp.data(), inp.data(), dout.data(), n);
  EXPECT_TRUE(all_close(to_host(d_dinp), dinp, 1e-6, 1e-5)) << "dinp";
}

TEST_F(CudaGptKernels, AttentionMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(describe(s));
    const size_t qkv_n = size_t(s.B) * s.T * 3 * s.C, out_n = size_t(s.B) * s.T * s.C;
    const size_t att_n = size_t(s.B) * s.H * s.T * s.T;
    auto qkv = uniform(qkv_n, -1.5f, 1.5f, gen_);
    std::vector<float> out(out_n), att(att_n);
    cpu::attention_forward(out.data(), att.data(), qkv.data(), s.B, s.T, s.C, s.H);
    auto d_qkv = to_device(qkv);
    auto d_out = poisoned<float>(out_n), d_att = poisoned<float>(att_n);
    cuda::attention_forward(blas(), stream(), d_out.data(), d_att.data(), d_qkv.data(), s.B, s.T, s.C, s.H);
    EXPECT_TRUE(all_close(to_host(d_att), att, 1e-6, 1e-4)) << "att";  // exact zeros above the diagonal match
    EXPECT_TRUE(all_close(to_host(d_out), out, 1e-5, 1e-4)) << "out";

    // Backward from the CPU's probabilities on both sides.
    auto dout = uniform(out_n, -1, 1, gen_), dqkv = start(qkv_n);
    auto d_dout = to_device(dout), d_dqkv = to_device(dqkv), d_att_ref = to_device(att);
    auto d_scratch = poisoned<float>(att_n);
    cuda::attention_backward(blas(), stream(), d_dqkv.data(), d_scratch.data(), d_dout.data(), d_qkv.data(),
                             d_att_ref.data(), s.B, s.T, s.C, s.H);
    std::vector<float> scratch(att_n);
    cpu::attention_backward(dqkv.data(), scratch.data(), dout.data(), qkv.data(), att.data(), s.B, s.T, s.C, s.H);
    EXPECT_TRUE(all_close(to_host(d_dqkv), dqkv, 1e-5, 1e-3)) << "dqkv";
  }
}

TEST_F(CudaGptKernels, ResidualMatchesCpuExactly) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const size_t n = 100003;
  auto a = uniform(n, -1, 1, gen_), b = uniform(n, -1, 1, gen_);
  std::vector<float> out(n);
  cpu::residual_forward(out.data(), a.data(), b.data(), n);
  auto d_a = to_device(a), d_b = to_device(b);
  auto d_out = poisoned<float>(n);
  cuda::residual_forward(stream(), d_out.data(), d_a.data(), d_b.data(), n);
  EXPECT_TRUE(all_close(to_host(d_out), out, 0, 0));
  cuda::residual_forward(stream(), d_a.data(), d_a.data(), d_b.data(), n);  // in place
  EXPECT_TRUE(all_close(to_host(d_a), out, 0, 0)) << "in place";

  auto dout = uniform(n, -1, 1, gen_), da = start(n), db = start(n);
  auto d_dout = to_device(dout), d_da = to_device(da), d_db = to_device(db);
  cuda::residual_backward(stream(), d_da.data(), d_db.data(), d_dout.data(), n);
  cpu::residual_backward(da.data(), db.data(), dout.data(), n);
  EXPECT_TRUE(all_close(to_host(d_da), da, 0, 0)) << "da";
  EXPECT_TRUE(all_close(to_host(d_db), db, 0, 0)) << "db";
}

TEST_F(CudaGptKernels, AdamWMaskedMatchesCpu) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  // Decayed and plain runs, adjacent ranges merged, a gap left alone.
  const std::vector<cpu::ParamRange> ranges = {
      {0, 40000, true}, {40000, 128, false}, {40128, 128, false}, {40256, 49152, true}, {90000, 3000, false}};
  const size_t n = 100003;  // 89408..89999 and 93000.. are in no range
  auto p = uniform(n, -0.1f, 0.1f, gen_), p0 = p;
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  auto d_p = to_device(p), d_m = to_device(m), d_v = to_device(v);
  for (int64_t step = 1; step <= 5; ++step) {
    auto g = uniform(n, -1, 1, gen_);
    auto d_g = to_device(g);
    cpu::adamw_step_masked(p.data(), g.data(), m.data(), v.data(), ranges, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
    cuda::adamw_step_masked(stream(), d_p.data(), d_g.data(), d_m.data(), d_v.data(), ranges, 1e-3f, 0.9f, 0.95f,
                            1e-8f, 0.1f, step);
  }
  const auto got = to_host(d_p);
  EXPECT_TRUE(all_close(got, p, 1e-6, 1e-5));
  EXPECT_TRUE(all_close(to_host(d_m), m, 1e-6, 1e-5));
  EXPECT_TRUE(all_close(to_host(d_v), v, 1e-7, 1e-5));
  for (size_t i : {size_t{89408}, size_t{89999}, size_t{93000}, n - 1}) EXPECT_EQ(got[i], p0[i]) << "element " << i;
}

}  // namespace
}  // namespace fedtrain::kernels
