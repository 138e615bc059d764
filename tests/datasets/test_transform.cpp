// Preprocessing: parse_columns, Transform::apply, fit_transform (standard, robust).
#include <cmath>

#include "h5test.hpp"

namespace pkd = personakit::datasets;
using pktest::expect_error;
using Scale = pkd::Transform::Scale;

namespace {

class Transform : public pktest::TempDirTest {};

// A RowSource over a vector, with a chosen block size (to check that fitted
// parameters do not depend on how the rows are blocked).
class VecSource final : public personakit::RowSource {
 public:
  VecSource(std::vector<float> x, std::size_t d, std::size_t block) : x_(std::move(x)), d_(d), block_(block) {}
  std::size_t rows() const override { return x_.size() / d_; }
  std::size_t cols() const override { return d_; }
  void for_each_block(std::size_t align, const BlockFn& fn) override {
    std::size_t b = std::max<std::size_t>(align, block_ / std::max<std::size_t>(align, 1) * align);
    for (std::size_t r = 0; r < rows(); r += b) fn(x_.data() + r * d_, r, std::min(b, rows() - r));
  }
  void read_rows(const std::uint64_t* idx, std::size_t count, float* out) override {
    for (std::size_t i = 0; i < count; ++i) std::copy_n(x_.data() + idx[i] * d_, d_, out + i * d_);
  }

 private:
  std::vector<float> x_;
  std::size_t d_, block_;
};

TEST_F(Transform, ParseColumns) {
  const std::vector<std::string> names = {"recency", "frequency", "monetary", "avg_basket"};
  EXPECT_EQ(pkd::parse_columns("monetary,avg_basket", names), (std::vector<int>{2, 3}));
  EXPECT_EQ(pkd::parse_columns("3, 2", names), (std::vector<int>{2, 3}));
  EXPECT_EQ(pkd::parse_columns("monetary,2,0", names), (std::vector<int>{0, 2}));
  EXPECT_TRUE(pkd::parse_columns("", names).empty());
  expect_error([&] { pkd::parse_columns("money", names); }, {"unknown column 'money'", "recency, frequency"});
  expect_error([&] { pkd::parse_columns("4", names); }, {"column 4 is out of range", "0..3"});
  expect_error([&] { pkd::parse_columns("1,,2", names); }, {"empty entry"});
  EXPECT_EQ(pkd::parse_scale("robust"), Scale::robust);
  expect_error([&] { pkd::parse_scale("minmax"); }, {"unknown scaling 'minmax'"});
}

TEST_F(Transform, ApplyComputesInFp64AndRoundsOnce) {
  pkd::Transform t;
  t.log1p_cols = {1};
  t.scale = Scale::standard;
  t.center = {1.0, 0.5};
  t.scale_by = {2.0, 3.0};
  std::vector<float> x = {5.f, 0.f, -1.f, 99.f};
  t.apply(x.data(), 2, 2);
  EXPECT_EQ(x[0], static_cast<float>((5.0 - 1.0) * (1.0 / 2.0)));
  EXPECT_EQ(x[1], static_cast<float>((std::log1p(0.0) - 0.5) * (1.0 / 3.0)));
  EXPECT_EQ(x[2], static_cast<float>((-1.0 - 1.0) * (1.0 / 2.0)));
  EXPECT_EQ(x[3], static_cast<float>((std::log1p(99.0) - 0.5) * (1.0 / 3.0)));
  std::vector<float> neg = {1.f, -0.5f};
  expect_error([&] { t.apply(neg.data(), 1, 2, 41); }, {"log1p column 1", "negative", "row 41"});
  expect_error([&] { t.apply(neg.data(), 2, 1); }, {"outside"});
  pkd::Transform e;
  EXPECT_TRUE(e.empty());
}

TEST_F(Transform, StandardGivesMeanZeroStdOneAndIgnoresBlocking) {
  const std::size_t n = 20011, d = 4;
  auto x = pktest::pattern(n, d);
  for (std::size_t i = 0; i < n; ++i) {
    x[i * d + 1] = x[i * d + 1] * 1000.f + 1e5f;   // large offset: cancellation test
    x[i * d + 2] = std::fabs(x[i * d + 2]) * 50.f; // log1p column
    x[i * d + 3] = 7.f;                            // constant column -> scale 1
  }
  VecSource whole(x, d, n), blocks(x, d, 333);
  auto t = pkd::fit_transform(whole, Scale::standard, {2});
  auto t2 = pkd::fit_transform(blocks, Scale::standard, {2});
  EXPECT_EQ(t.center, t2.center);  // groups of 4096 rows: bit-identical
  EXPECT_EQ(t.scale_by, t2.scale_by);
  EXPECT_EQ(t.scale_by[3], 1.0);
  EXPECT_EQ(t.center[3], 7.0);
  auto y = x;
  t.apply(y.data(), n, d);
  for (std::size_t j = 0; j < 3; ++j) {
    double s = 0, s2 = 0;
    for (std::size_t i = 0; i < n; ++i) s += y[i * d + j];
    double m = s / n;
    for (std::size_t i = 0; i < n; ++i) s2 += std::pow(y[i * d + j] - m, 2);
    // Each transformed value is exact up to its fp32 rounding (|y| <= ~4, error
    // <= 4 * 2^-24 = 2.4e-7), so the mean is within 2.4e-7 of 0 and the std
    // within ~2.4e-7 of 1 (plus fp64 noise, negligible): tolerance 1e-6.
    EXPECT_NEAR(m, 0.0, 1e-6) << "column " << j;
    EXPECT_NEAR(std::sqrt(s2 / n), 1.0, 1e-6) << "column " << j;
  }
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(y[i * d + 3], 0.f);
}

TEST_F(Transform, RobustUsesMedianAndIqr) {
  // n = 5 * 201 values in one column: 0..1004 shuffled by a multiplicative step.
  // numpy-style linear quantiles of 0..1004: median 502, q25 251, q75 753.
  const std::size_t n = 1005;
  std::vector<float> x(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    x[i * 2] = static_cast<float>((i * 7) % n);
    x[i * 2 + 1] = 3.f;
  }
  VecSource src(x, 2, 100);
  auto t = pkd::fit_transform(src, Scale::robust, {});
  EXPECT_EQ(t.center[0], 502.0);
  EXPECT_EQ(t.scale_by[0], 753.0 - 251.0);
  EXPECT_EQ(t.center[1], 3.0);
  EXPECT_EQ(t.scale_by[1], 1.0);  // IQR 0 -> 1
}

TEST_F(Transform, RobustSampleDoesNotDependOnBlocks) {
  // More rows than the 1e6 sample: the estimate comes from a sample, the same one
  // whatever the blocking. Values uniform on [0, 1): true median 0.5, IQR 0.5.
  const std::size_t n = 1200000;
  std::vector<float> x(n);
  std::uint64_t s = 1;
  for (auto& v : x) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v = static_cast<float>(static_cast<double>(s >> 40) / 16777216.0);
  }
  VecSource a(x, 1, 65536), b(x, 1, 100000);
  auto ta = pkd::fit_transform(a, Scale::robust, {}, 3);
  auto tb = pkd::fit_transform(b, Scale::robust, {}, 3);
  EXPECT_EQ(ta.center, tb.center);
  EXPECT_EQ(ta.scale_by, tb.scale_by);
  // The sample median of m = 1e6 uniforms has sd 0.5 / sqrt(m) = 5e-4, and the
  // sample is drawn without replacement from 1.2e6 rows (even smaller): 0.003 is
  // six sigma. Same for each quartile (sd sqrt(q(1-q)/m) = 4.3e-4).
  EXPECT_NEAR(ta.center[0], 0.5, 0.003);
  EXPECT_NEAR(ta.scale_by[0], 0.5, 0.006);
  auto tc = pkd::fit_transform(a, Scale::robust, {}, 4);  // another seed, another sample
  EXPECT_NE(ta.center[0], tc.center[0]);
}

TEST_F(Transform, FitRejectsNegativeLog1pAndBadColumns) {
  std::vector<float> x = {1, 2, 3, -4};
  VecSource src(x, 2, 1);
  expect_error([&] { pkd::fit_transform(src, Scale::standard, {1}); }, {"log1p column 1", "negative", "row 1"});
  expect_error([&] { pkd::fit_transform(src, Scale::none, {1}); }, {"negative"});
  expect_error([&] { pkd::fit_transform(src, Scale::none, {2}); }, {"outside"});
  auto t = pkd::fit_transform(src, Scale::none, {0});
  EXPECT_EQ(t.log1p_cols, std::vector<int>{0});
}

TEST_F(Transform, StreamingSourceAppliesTheTransform) {
  const std::size_t n = 5000, d = 3;
  auto x = pktest::pattern(n, d);
  for (auto& v : x) v = std::fabs(v);
  pkd::write_matrix(path("t.h5"), x.data(), n, d);
  pkd::H5RowSource raw(path("t.h5"), "/features", 8 << 20);
  auto t = pkd::fit_transform(raw, Scale::standard, {0, 2});
  VecSource mem(x, d, n);
  auto tm = pkd::fit_transform(mem, Scale::standard, {0, 2});
  EXPECT_EQ(t.center, tm.center);
  EXPECT_EQ(t.scale_by, tm.scale_by);
  pkd::H5RowSource scaled(path("t.h5"), "/features", (2 << 20) + 24 * 300, &t);
  std::vector<float> got;
  scaled.for_each_block(1, [&](const float* b, std::size_t, std::size_t nr) { got.insert(got.end(), b, b + nr * d); });
  EXPECT_EQ(got, pkd::read_matrix(path("t.h5"), "/features", &t).x);
  auto y = x;
  t.apply(y.data(), n, d);
  EXPECT_EQ(got, y);
}

}  // namespace
