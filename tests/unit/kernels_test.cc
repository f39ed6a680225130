// CPU kernels against naive loops and closed forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/kernels.h"

namespace fedtrain::kernels::cpu {
namespace {

std::vector<float> random_vec(size_t n, std::mt19937_64& gen) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& ref, double atol, double rtol) {
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::abs(got[i] - ref[i]), atol + rtol * std::abs(ref[i])) << "element " << i;
}

TEST(Kernels, LinearForwardAndBackwardMatchNaiveLoops) {
  std::mt19937_64 gen(1);
  const int B = 5, C = 7, OC = 3;
  auto inp = random_vec(B * C, gen), w = random_vec(OC * C, gen), b = random_vec(OC, gen), dout = random_vec(B * OC, gen);
  for (Activation act : {Activation::kNone, Activation::kRelu}) {
    std::vector<float> out(B * OC, NAN);  // poisoned: every element must be written
    linear_forward(out.data(), inp.data(), w.data(), b.data(), B, C, OC, act);
    std::vector<double> ref(B * OC);
    for (int i = 0; i < B; ++i)
      for (int o = 0; o < OC; ++o) {
        double s = b[o];
        for (int c = 0; c < C; ++c) s += double(inp[i * C + c]) * w[o * C + c];
        ref[i * OC + o] = act == Activation::kRelu ? std::max(s, 0.0) : s;
      }
    expect_close(out, ref, 1e-5, 1e-5);
  }
  std::vector<float> dinp(B * C, NAN), dw(OC * C, NAN), db(OC, NAN);
  linear_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), B, C, OC);
  std::vector<double> rdinp(B * C, 0), rdw(OC * C, 0), rdb(OC, 0);
  for (int i = 0; i < B; ++i)
    for (int o = 0; o < OC; ++o) {
      rdb[o] += dout[i * OC + o];
      for (int c = 0; c < C; ++c) {
        rdw[o * C + c] += double(dout[i * OC + o]) * inp[i * C + c];
        rdinp[i * C + c] += double(dout[i * OC + o]) * w[o * C + c];
      }
    }
  expect_close(dinp, rdinp, 1e-5, 1e-5);
  expect_close(dw, rdw, 1e-5, 1e-5);
  expect_close(db, rdb, 1e-5, 1e-5);
}

TEST(Kernels, SoftmaxCrossEntropyMatchesDefinition) {
  std::mt19937_64 gen(2);
  const int B = 4, V = 6;
  auto logits = random_vec(B * V, gen);
  logits[1] = 50.0f;  // large logits stay finite (max subtracted)
  std::vector<int32_t> y = {0, 3, 5, 1};
  std::vector<float> d(B * V, NAN);
  int correct = -1;
  double loss = softmax_xent(d.data(), &correct, logits.data(), y.data(), B, V);
  double ref_loss = 0;
  int ref_correct = 0;
  std::vector<double> ref_d(B * V);
  for (int b = 0; b < B; ++b) {
    double m = -1e30;
    int arg = 0;
    for (int v = 0; v < V; ++v)
      if (logits[b * V + v] > m) m = logits[b * V + v], arg = v;
    double z = 0;
    for (int v = 0; v < V; ++v) z += std::exp(logits[b * V + v] - m);
    ref_loss += -(logits[b * V + y[b]] - m - std::log(z));
    ref_correct += arg == y[b];
    for (int v = 0; v < V; ++v) ref_d[b * V + v] = (std::exp(logits[b * V + v] - m) / z - (v == y[b])) / B;
  }
  EXPECT_NEAR(loss, ref_loss, 1e-6);
  EXPECT_EQ(correct, ref_correct);
  expect_close(d, ref_d, 1e-6, 1e-5);
}

TEST(Kernels, SgdMomentumAndNesterovFollowPyTorch) {
  // Two steps by hand: p=1, g=0.5 then g=0.25, lr 0.1, momentum 0.9, weight decay 0.01.
  for (bool nesterov : {false, true}) {
    float p = 1.0f, buf = 0.0f;
    double rp = 1.0, rbuf = 0.0;
    for (double g0 : {0.5, 0.25}) {
      float g = static_cast<float>(g0);
      sgd_step(&p, &g, &buf, 1, 0.1f, 0.9f, 0.01f, nesterov);
      double gg = g0 + 0.01 * rp;
      rbuf = 0.9 * rbuf + gg;
      rp -= 0.1 * (nesterov ? gg + 0.9 * rbuf : rbuf);
    }
    EXPECT_NEAR(p, rp, 1e-6) << "nesterov " << nesterov;
  }
  float p = 2.0f, g = 1.0f;
  sgd_step(&p, &g, nullptr, 1, 0.5f, 0.0f, 0.0f, false);
  EXPECT_FLOAT_EQ(p, 1.5f);
}

TEST(Kernels, AdamWFollowsPyTorch) {
  float p = 1.0f, m = 0.0f, v = 0.0f;
  double rp = 1.0, rm = 0.0, rv = 0.0;
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  int t = 0;
  for (double g0 : {0.3, -0.2, 0.1}) {
    ++t;
    float g = static_cast<float>(g0);
    adamw_step(&p, &g, &m, &v, 1, lr, b1, b2, eps, wd, t);
    rp *= 1 - lr * wd;
    rm = b1 * rm + (1 - b1) * g0;
    rv = b2 * rv + (1 - b2) * g0 * g0;
    rp -= lr * (rm / (1 - std::pow(b1, t))) / (std::sqrt(rv / (1 - std::pow(b2, t))) + eps);
  }
  EXPECT_NEAR(p, rp, 1e-6);
}

TEST(Kernels, PseudoGradientScaleAndNorm) {
  std::vector<float> g = {1, 2, 3}, l = {0.5f, 2, 4}, d(3, NAN);
  pseudo_gradient(d.data(), g.data(), l.data(), 3);
  EXPECT_EQ(d, (std::vector<float>{0.5f, 0, -1}));
  scale(d.data(), 3, 2.0f);
  EXPECT_EQ(d, (std::vector<float>{1, 0, -2}));
  bool finite = false;
  EXPECT_DOUBLE_EQ(sum_squares(d.data(), 3, &finite), 5.0);
  EXPECT_TRUE(finite);
  d[1] = NAN;
  sum_squares(d.data(), 3, &finite);
  EXPECT_FALSE(finite);
}

}  // namespace
}  // namespace fedtrain::kernels::cpu

namespace fedtrain::kernels::cpu {
namespace {

TEST(Kernels, QuantizeIsUnbiasedClippedAndInvertible) {
  const size_t n = 200000;
  std::vector<float> x(n, 0.3f);
  x[0] = 5.0f;   // clipped to 1
  x[1] = -5.0f;  // clipped to -1
  std::vector<uint32_t> q(n);
  const double scale = 1024.0;  // 10 fractional bits
  quantize(q.data(), x.data(), n, 1.0f, scale, 42, 0);
  EXPECT_EQ(static_cast<int32_t>(q[0]), 1024);
  EXPECT_EQ(static_cast<int32_t>(q[1]), -1024);
  double mean = 0;
  for (size_t i = 2; i < n; ++i) {
    const int32_t v = static_cast<int32_t>(q[i]);
    ASSERT_TRUE(v == 307 || v == 308) << v;  // 0.3 * 1024 = 307.2
    mean += v;
  }
  mean /= (n - 2);
  EXPECT_NEAR(mean, 307.2, 0.01);  // unbiased
  std::vector<float> back(n);
  dequantize(back.data(), q.data(), n, 1.0 / scale);
  for (size_t i = 2; i < 100; ++i) EXPECT_LE(std::abs(back[i] - 0.3f), 1.0 / scale);
  // The same (seed, offset) gives the same bits; another seed, other roundings.
  std::vector<uint32_t> again(n), other(n);
  quantize(again.data(), x.data(), n, 1.0f, scale, 42, 0);
  quantize(other.data(), x.data(), n, 1.0f, scale, 43, 0);
  EXPECT_EQ(q, again);
  EXPECT_NE(q, other);
  // Offsets continue the stream: quantizing the second half alone gives the same bits.
  std::vector<uint32_t> half(n / 2);
  quantize(half.data(), x.data() + n / 2, n / 2, 1.0f, scale, 42, n / 2);
  EXPECT_TRUE(std::equal(half.begin(), half.end(), q.begin() + n / 2));
}

TEST(Kernels, RingSumOfQuantizedValuesWrapsBackToTheSignedSum) {
  std::vector<float> a = {-0.75f, 0.5f}, b = {0.25f, -1.0f};
  std::vector<uint32_t> qa(2), qb(2);
  quantize(qa.data(), a.data(), 2, 1.0f, 4.0, 1, 0);  // exact: multiples of 1/4
  quantize(qb.data(), b.data(), 2, 1.0f, 4.0, 2, 0);
  std::vector<uint32_t> sum = {qa[0] + qb[0], qa[1] + qb[1]};  // mod 2^32
  std::vector<float> out(2);
  dequantize(out.data(), sum.data(), 2, 0.25);
  EXPECT_EQ(out, (std::vector<float>{-0.5f, -0.5f}));
}

}  // namespace
}  // namespace fedtrain::kernels::cpu

namespace fedtrain::kernels::cpu {
namespace {

// The dispatched loop (AVX-512 or AVX2 on most machines) gives the bits of the plain scalar formula.
TEST(Kernels, QuantizeMatchesTheScalarFormulaBitForBit) {
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<float> u(-6.0f, 6.0f);
  const size_t n = 100003;  // not a multiple of any vector width
  std::vector<float> x(n);
  for (float& v : x) v = u(gen);
  // Infinities clamp to the clip like the scalar code. Not a NaN: it passes the clamp, and converting
  // it to an integer is undefined behaviour (secure aggregation never quantises one: participation.cc
  // keeps non-finite updates out).
  x[5] = INFINITY;
  x[6] = -INFINITY;
  std::vector<uint32_t> q(n);
  const double scale = 0.37 * 16777216.0;
  quantize(q.data(), x.data(), n, 4.0f, scale, 99, 12345);
  for (size_t i = 0; i < n; ++i) {
    volatile float c = x[i] < -4.0f ? -4.0f : (x[i] > 4.0f ? 4.0f : x[i]);
    volatile double v = static_cast<double>(c) * scale;
    volatile double r = std::floor(v + stochastic_uniform(99, 12345 + i));
    ASSERT_EQ(q[i], static_cast<uint32_t>(static_cast<int32_t>(r))) << "element " << i;
  }
  std::vector<float> back(n), ref(n);
  dequantize(back.data(), q.data(), n, 1.0 / scale);
  for (size_t i = 0; i < n; ++i)
    ASSERT_EQ(back[i], static_cast<float>(static_cast<double>(static_cast<int32_t>(q[i])) * (1.0 / scale))) << i;
}

}  // namespace
}  // namespace fedtrain::kernels::cpu
