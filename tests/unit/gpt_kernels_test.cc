// GPT kernels against closed forms and naive loops: LayerNorm statistics, cross-entropy of uniform logits,
// attention against a double-precision loop and its causality, the AdamW decay mask, and the fused kernels
// (residual Linear, LayerNorm gradient with the residual's, in-place GELU gradient and cross-entropy) against
// their plain versions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gpt_exp.h"
#include "kernels/cpu/gpt_kernels.h"
#include "kernels/cpu/isa_dispatch.h"

namespace fedtrain::kernels::cpu {
namespace {

std::vector<float> random_vec(size_t n, std::mt19937_64& gen, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

// ctest runs this file again with FEDTRAIN_CPU_ISA=base and =avx2: the cap must hold, or those runs would
// test the AVX-512 loops once more.
TEST(GptKernels, CpuIsaCapHolds) {
  const char* cap = std::getenv("FEDTRAIN_CPU_ISA");
  const Isa isa = best_isa();
  std::printf("SIMD version in use: %s\n", isa == Isa::kAvx512 ? "avx512" : isa == Isa::kAvx2 ? "avx2" : "base");
  const std::string wanted = cap != nullptr ? cap : "";
  if (wanted == "base") {
    EXPECT_EQ(isa, Isa::kBase);
  } else if (wanted == "avx2") {
    EXPECT_NE(isa, Isa::kAvx512);
  }
}

TEST(GptKernels, EmbeddingAddsTokenAndPositionRows) {
  std::mt19937_64 gen(1);
  const int B = 2, T = 3, C = 4, V = 5;
  auto wte = random_vec(size_t(V) * C, gen), wpe = random_vec(size_t(T) * C, gen);
  std::vector<int32_t> tokens = {4, 0, 4, 1, 2, 3};
  std::vector<float> out(size_t(B) * T * C, NAN);
  embedding_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c)
        EXPECT_EQ(out[(b * T + t) * C + c], wte[tokens[b * T + t] * C + c] + wpe[t * C + c]) << b << "," << t << "," << c;
}

// With weight 1 and bias 0 every row comes out with mean 0 and variance var/(var+eps); inputs far from 0
// (mean 10) check that the variance is not taken as E[x^2] - E[x]^2.
TEST(GptKernels, LayerNormRowsHaveMeanZeroVarianceOne) {
  std::mt19937_64 gen(2);
  const int N = 7, C = 70;  // 4 x 16 channels in partial sums, then a tail of 6
  auto inp = random_vec(size_t(N) * C, gen, 8.0f, 12.0f);
  std::vector<float> weight(C, 1.0f), bias(C, 0.0f), out(inp.size(), NAN), mean(N, NAN), rstd(N, NAN);
  layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), weight.data(), bias.data(), N, C);
  for (int n = 0; n < N; ++n) {
    double m = 0, m_out = 0, v = 0, v_out = 0;
    for (int c = 0; c < C; ++c) m += inp[n * C + c], m_out += out[n * C + c];
    m /= C, m_out /= C;
    for (int c = 0; c < C; ++c) {
      v += (inp[n * C + c] - m) * (inp[n * C + c] - m);
      v_out += (out[n * C + c] - m_out) * (out[n * C + c] - m_out);
    }
    v /= C, v_out /= C;
    EXPECT_NEAR(m_out, 0.0, 1e-5) << "row " << n;
    EXPECT_NEAR(v_out, v / (v + 1e-5), 1e-5) << "row " << n;
    EXPECT_NEAR(mean[n], m, 1e-5 * std::abs(m)) << "row " << n;
    EXPECT_NEAR(rstd[n], 1.0 / std::sqrt(v + 1e-5), 1e-4 / std::sqrt(v)) << "row " << n;
  }
  // weight and bias: out = xhat * weight + bias
  auto w2 = random_vec(C, gen), b2 = random_vec(C, gen);
  std::vector<float> out2(inp.size(), NAN);
  layernorm_forward(out2.data(), mean.data(), rstd.data(), inp.data(), w2.data(), b2.data(), N, C);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out2[i], out[i] * w2[i % C] + b2[i % C], 1e-5) << i;
}

TEST(GptKernels, MatmulMatchesNaiveLoop) {
  std::mt19937_64 gen(3);
  const int N = 6, C = 5, OC = 7;
  auto inp = random_vec(size_t(N) * C, gen), weight = random_vec(size_t(OC) * C, gen), bias = random_vec(OC, gen);
  for (bool with_bias : {true, false}) {
    std::vector<float> out(size_t(N) * OC, NAN);
    matmul_forward(out.data(), inp.data(), weight.data(), with_bias ? bias.data() : nullptr, N, C, OC);
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < OC; ++o) {
        double s = with_bias ? bias[o] : 0.0;
        for (int c = 0; c < C; ++c) s += double(inp[n * C + c]) * weight[o * C + c];
        EXPECT_NEAR(out[n * OC + o], s, 1e-5) << (with_bias ? "bias " : "no bias ") << n << "," << o;
      }
  }
}

// The fused residual Linear against the naive loop, also with out aliasing the residual.
TEST(GptKernels, MatmulResidualMatchesNaiveLoop) {
  std::mt19937_64 gen(11);
  const int N = 9, C = 21, OC = 19;
  auto inp = random_vec(size_t(N) * C, gen), weight = random_vec(size_t(OC) * C, gen), bias = random_vec(OC, gen);
  auto residual = random_vec(size_t(N) * OC, gen);
  std::vector<float> out(residual.size(), NAN), aliased = residual;
  matmul_residual_forward(out.data(), inp.data(), weight.data(), bias.data(), residual.data(), N, C, OC);
  matmul_residual_forward(aliased.data(), inp.data(), weight.data(), bias.data(), aliased.data(), N, C, OC);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o) {
      double s = double(residual[n * OC + o]) + bias[o];
      for (int c = 0; c < C; ++c) s += double(inp[n * C + c]) * weight[o * C + c];
      EXPECT_NEAR(out[n * OC + o], s, 1e-5) << n << "," << o;
      EXPECT_EQ(aliased[n * OC + o], out[n * OC + o]) << "aliased " << n << "," << o;
    }
}

// The LayerNorm gradient with the residual's added in is layernorm_backward into a copy of that residual.
TEST(GptKernels, LayerNormBackwardResidualEqualsCopyThenAccumulate) {
  std::mt19937_64 gen(14);
  const int N = 5, C = 70;
  auto inp = random_vec(size_t(N) * C, gen), weight = random_vec(C, gen), bias = random_vec(C, gen);
  auto dout = random_vec(inp.size(), gen), dres = random_vec(inp.size(), gen);
  std::vector<float> out(inp.size()), mean(N), rstd(N);
  layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), weight.data(), bias.data(), N, C);
  std::vector<float> ref = dres, ref_dw(C, 0.5f), ref_db(C, 0.25f);
  layernorm_backward(ref.data(), ref_dw.data(), ref_db.data(), dout.data(), inp.data(), weight.data(), mean.data(),
                     rstd.data(), N, C);
  std::vector<float> got(inp.size(), NAN), dw(C, 0.5f), db(C, 0.25f);
  layernorm_backward_residual(got.data(), dres.data(), dw.data(), db.data(), dout.data(), inp.data(), weight.data(),
                              mean.data(), rstd.data(), N, C);
  EXPECT_EQ(got, ref);
  EXPECT_EQ(dw, ref_dw);
  EXPECT_EQ(db, ref_db);
}

// The in-place GELU gradient is gelu_backward's into a zeroed buffer, bit for bit (the same loop body).
TEST(GptKernels, GeluBackwardInplaceEqualsAccumulating) {
  std::mt19937_64 gen(12);
  const size_t n = 1000;
  auto inp = random_vec(n, gen, -6.0f, 6.0f), dout = random_vec(n, gen);
  std::vector<float> ref(n, 0.0f), d = dout;
  gelu_backward(ref.data(), inp.data(), dout.data(), n);
  gelu_backward_inplace(d.data(), inp.data(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_FLOAT_EQ(d[i], ref[i]) << i;
}

// The vectorised cross-entropy against softmax_xent (exps in double): loss and gradient, with logits spread
// wide enough that some exps underflow; without gradient the logits stay as they were.
TEST(GptKernels, CrossEntropyInplaceMatchesSoftmaxXent) {
  std::mt19937_64 gen(13);
  for (int V : {256, 37}) {
    const int N = 23;
    auto logits = random_vec(size_t(N) * V, gen, -30.0f, 30.0f);
    std::vector<int32_t> targets(N);
    for (int32_t& t : targets) t = static_cast<int32_t>(gen() % V);
    std::vector<float> ref_d(logits.size(), NAN), z = logits;
    const double ref = softmax_xent(ref_d.data(), nullptr, logits.data(), targets.data(), N, V);
    EXPECT_NEAR(softmax_xent_inplace(z.data(), targets.data(), N, V, false), ref, 1e-6 * ref) << "V " << V;
    EXPECT_EQ(z, logits) << "no gradient asked: logits untouched";
    EXPECT_NEAR(softmax_xent_inplace(z.data(), targets.data(), N, V, true), ref, 1e-6 * ref) << "V " << V;
    double row_sum = 0;
    for (size_t i = 0; i < z.size(); ++i) {
      EXPECT_NEAR(z[i], ref_d[i], 1e-8 + 1e-6 * std::abs(ref_d[i])) << "V " << V << " element " << i;
      row_sum += z[i];
    }
    EXPECT_NEAR(row_sum, 0.0, 1e-5) << "each row of the gradient sums to 0";
  }
}

// Every float the softmax and GELU loops can feed it, sampled densely, against the library exp in double.
TEST(GptKernels, ExpNonpositiveMatchesStdExp) {
  double worst = 0.0;
  for (float x = 0.0f; x >= -87.3f; x -= 0.000731f) {
    const double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(exp_nonpositive(x) - ref) / ref);
  }
  EXPECT_LT(worst, 2e-7) << "largest relative error";  // 9e-8 measured (1.5 float ulps)
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-88.0f), 0.0f);  // exactly 0 from here down
  EXPECT_EQ(exp_nonpositive(-1e30f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-INFINITY), 0.0f);
  EXPECT_EQ(exp_nonpositive(NAN), 0.0f);
  std::vector<float> x = {1.0f, NAN, -2.0f}, out(3);
  gelu_forward(out.data(), x.data(), x.size());
  EXPECT_TRUE(std::isnan(out[1])) << "GELU of NaN";
}

TEST(GptKernels, GeluMatchesDefinition) {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.00937f) x.push_back(v);
  x.push_back(0.0f);
  std::vector<float> out(x.size(), NAN);
  gelu_forward(out.data(), x.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i];
    const double ref = 0.5 * xi * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (xi + 0.044715 * xi * xi * xi)));
    ASSERT_NEAR(out[i], ref, 1e-7 + 5e-7 * std::abs(ref)) << "x=" << xi;
  }
  EXPECT_EQ(out.back(), 0.0f);
}

// softmax over s <= t of q_t . k_s / sqrt(hs), in double, one (b, h, t) at a time.
void naive_attention(std::vector<double>& out, std::vector<double>& att, const std::vector<float>& qkv, int B, int T,
                     int C, int H) {
  const int hs = C / H;
  out.assign(size_t(B) * T * C, 0.0);
  att.assign(size_t(B) * H * T * T, 0.0);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T; ++t) {
        const float* q = &qkv[(size_t(b) * T + t) * 3 * C + h * hs];
        std::vector<double> p(t + 1);
        double max = -INFINITY, sum = 0;
        for (int s = 0; s <= t; ++s) {
          const float* k = &qkv[(size_t(b) * T + s) * 3 * C + C + h * hs];
          double d = 0;
          for (int i = 0; i < hs; ++i) d += double(q[i]) * k[i];
          p[s] = d / std::sqrt(double(hs));
          max = std::max(max, p[s]);
        }
        for (int s = 0; s <= t; ++s) sum += p[s] = std::exp(p[s] - max);
        for (int s = 0; s <= t; ++s) {
          p[s] /= sum;
          att[((size_t(b) * H + h) * T + t) * T + s] = p[s];
          const float* v = &qkv[(size_t(b) * T + s) * 3 * C + 2 * C + h * hs];
          for (int i = 0; i < hs; ++i) out[(size_t(b) * T + t) * C + h * hs + i] += p[s] * v[i];
        }
      }
}

// T = 150: two full blocks of query rows and a partial one.
TEST(GptKernels, AttentionMatchesNaiveLoop) {
  std::mt19937_64 gen(4);
  struct Shape {
    int B, T, C, H;
  };
  for (Shape s : {Shape{2, 5, 8, 2}, Shape{2, 150, 32, 4}, Shape{1, 64, 12, 1}}) {
    SCOPED_TRACE("B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " C=" + std::to_string(s.C) +
                 " H=" + std::to_string(s.H));
    auto qkv = random_vec(size_t(s.B) * s.T * 3 * s.C, gen, -1.5f, 1.5f);
    std::vector<float> out(size_t(s.B) * s.T * s.C, NAN), att(size_t(s.B) * s.H * s.T * s.T, NAN);
    attention_forward(out.data(), att.data(), qkv.data(), s.B, s.T, s.C, s.H);
    std::vector<double> ref_out, ref_att;
    naive_attention(ref_out, ref_att, qkv, s.B, s.T, s.C, s.H);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], ref_out[i], 1e-5 + 1e-4 * std::abs(ref_out[i])) << i;
    for (size_t i = 0; i < att.size(); ++i) {
      const size_t t = (i / s.T) % s.T, key = i % s.T;
      if (key > t) {
        ASSERT_EQ(att[i], 0.0f) << "future key " << key << " of query " << t;  // exactly 0
      } else {
        ASSERT_NEAR(att[i], ref_att[i], 1e-6 + 1e-4 * ref_att[i]) << i;
      }
    }
  }
}

// Changing position t0 (its q, k and v) leaves every output and probability before t0 bit for bit
// unchanged, and changes those at t0.
TEST(GptKernels, AttentionIsCausal) {
  std::mt19937_64 gen(5);
  const int B = 2, T = 70, C = 8, H = 2;  // several blocks of query rows, the last one partial
  auto qkv = random_vec(size_t(B) * T * 3 * C, gen);
  std::vector<float> out(size_t(B) * T * C), att(size_t(B) * H * T * T);
  attention_forward(out.data(), att.data(), qkv.data(), B, T, C, H);
  for (int t0 : {1, 4, 40, 64, 69}) {
    SCOPED_TRACE("perturbed position " + std::to_string(t0));
    auto qkv2 = qkv;
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < 3 * C; ++c) qkv2[(size_t(b) * T + t0) * 3 * C + c] += 0.5f;
    std::vector<float> out2(out.size()), att2(att.size());
    attention_forward(out2.data(), att2.data(), qkv2.data(), B, T, C, H);
    for (int b = 0; b < B; ++b) {
      bool changed = false;
      for (int t = 0; t <= t0; ++t)
        for (int c = 0; c < C; ++c) {
          const size_t i = (size_t(b) * T + t) * C + c;
          if (t < t0) {
            ASSERT_EQ(out2[i], out[i]) << "b=" << b << " t=" << t << " c=" << c;
          } else {
            changed = changed || out2[i] != out[i];
          }
        }
      EXPECT_TRUE(changed) << "b=" << b << ": the perturbed position's own output did not change";
      for (int h = 0; h < H; ++h)
        for (int t = 0; t < t0; ++t)
          for (int s = 0; s < T; ++s) {
            const size_t i = ((size_t(b) * H + h) * T + t) * T + s;
            ASSERT_EQ(att2[i], att[i]) << "b=" << b << " h=" << h << " t=" << t << " s=" << s;
          }
    }
  }
}

// Uniform logits: loss log V at every position, gradient (1/V - onehot)/N.
TEST(GptKernels, CrossEntropyOfUniformLogitsIsLogV) {
  const int N = 10, V = 256;
  std::vector<float> logits(size_t(N) * V, 0.7f), dlogits(logits.size(), NAN);
  std::vector<int32_t> targets(N);
  for (int n = 0; n < N; ++n) targets[n] = (n * 37) % V;
  const double loss_sum = softmax_xent(dlogits.data(), nullptr, logits.data(), targets.data(), N, V);
  EXPECT_NEAR(loss_sum, N * std::log(double(V)), 1e-9);
  for (int n = 0; n < N; ++n)
    for (int v = 0; v < V; ++v) {
      const double ref = (1.0 / V - (v == targets[n] ? 1.0 : 0.0)) / N;
      EXPECT_NEAR(dlogits[size_t(n) * V + v], ref, 1e-9) << n << "," << v;
    }
}

// Decayed and plain tensors, interleaved; a gap (34..39, in no range) between two plain ones.
struct MaskCase {
  std::vector<ParamRange> ranges = {{0, 12, true},  {12, 3, false}, {15, 12, true}, {27, 3, false},
                                    {30, 4, false}, {40, 6, false}, {46, 6, true}};
  size_t n = 52;
  static bool covered(const std::vector<ParamRange>& r, size_t i, bool* decay) {
    for (const ParamRange& x : r)
      if (i >= x.offset && i < x.offset + x.count) return *decay = x.decay, true;
    return false;
  }
};

TEST(GptKernels, AdamWDecaysOnlyMaskedRanges) {
  // Zero gradients: Adam's update is 0/(0+eps) = 0, so only the decay moves parameters.
  MaskCase mc;
  std::mt19937_64 gen(6);
  auto p = random_vec(mc.n, gen), p0 = p;
  std::vector<float> g(mc.n, 0.0f), m(mc.n, 0.0f), v(mc.n, 0.0f);
  const float lr = 0.1f, wd = 0.5f;
  adamw_step_masked(p.data(), g.data(), m.data(), v.data(), mc.ranges, lr, 0.9f, 0.999f, 1e-8f, wd, 1);
  for (size_t i = 0; i < mc.n; ++i) {
    bool decay = false;
    if (MaskCase::covered(mc.ranges, i, &decay) && decay) {
      EXPECT_FLOAT_EQ(p[i], p0[i] * (1.0f - lr * wd)) << "decayed element " << i;
    } else {
      EXPECT_EQ(p[i], p0[i]) << "element " << i << " is not decayed";
    }
  }
}

TEST(GptKernels, AdamWMaskedEqualsPlainAdamWPerRange) {
  // With gradients, three steps: each range follows adamw_step with its own decay; the gap stays put.
  MaskCase mc;
  std::mt19937_64 gen(7);
  auto p = random_vec(mc.n, gen), p0 = p;
  std::vector<float> m(mc.n, 0.0f), v(mc.n, 0.0f);
  auto ref_p = p, ref_m = m, ref_v = v;
  const float lr = 0.01f, wd = 0.1f;
  for (int64_t step = 1; step <= 3; ++step) {
    auto g = random_vec(mc.n, gen);
    adamw_step_masked(p.data(), g.data(), m.data(), v.data(), mc.ranges, lr, 0.9f, 0.95f, 1e-8f, wd, step);
    for (const ParamRange& r : mc.ranges)
      adamw_step(ref_p.data() + r.offset, g.data() + r.offset, ref_m.data() + r.offset, ref_v.data() + r.offset,
                 r.count, lr, 0.9f, 0.95f, 1e-8f, r.decay ? wd : 0.0f, step);
  }
  // The baseline version is adamw_step's loop, bit for bit; the wider ones may fuse multiplies and adds.
  if (best_isa() == Isa::kBase) {
    EXPECT_EQ(p, ref_p);
    EXPECT_EQ(m, ref_m);
    EXPECT_EQ(v, ref_v);
  } else {
    for (size_t i = 0; i < mc.n; ++i) {
      EXPECT_NEAR(p[i], ref_p[i], 1e-6f * (1.0f + std::abs(ref_p[i]))) << "param " << i;
      EXPECT_NEAR(m[i], ref_m[i], 1e-6f * std::abs(ref_m[i]) + 1e-9f) << "m " << i;
      EXPECT_NEAR(v[i], ref_v[i], 1e-6f * std::abs(ref_v[i]) + 1e-12f) << "v " << i;
    }
  }
  for (size_t i = 34; i < 40; ++i) EXPECT_EQ(p[i], p0[i]) << "element " << i << " is in no range";
}

}  // namespace
}  // namespace fedtrain::kernels::cpu
