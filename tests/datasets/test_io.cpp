// HDF5 matrices, models and labels: round trips, bad inputs, atomic writes.
#include <cmath>
#include <limits>

#include "h5test.hpp"

namespace pkd = personakit::datasets;
using pktest::expect_error;

namespace {

class Io : public pktest::TempDirTest {};

TEST_F(Io, MatrixRoundTripIsExact) {
  // Sizes around the 1 MiB HDF5 chunk (matrix_chunk_rows = 2^20 / (4 d) rows) and
  // the 16-chunk write band, so partial chunks and bands are exercised.
  for (auto [n, d] : {std::pair<std::size_t, std::size_t>{1, 1}, {7, 3}, {70000, 5}, {300, 17}}) {
    auto x = pktest::pattern(n, d);
    std::vector<std::string> names;
    for (std::size_t j = 0; j < d; ++j) names.push_back("col_" + std::to_string(j));
    std::vector<std::int64_t> ids(n);
    std::vector<std::int32_t> truth(n);
    for (std::size_t i = 0; i < n; ++i) {
      ids[i] = static_cast<std::int64_t>(1000000000000LL + i);
      truth[i] = static_cast<std::int32_t>(i % 5);
    }
    const std::string p = path("m.h5");
    pkd::write_matrix(p, x.data(), n, d, names, ids, truth);
    auto info = pkd::probe(p);
    EXPECT_EQ(info.rows, n);
    EXPECT_EQ(info.cols, d);
    EXPECT_EQ(info.dtype, "float32");
    EXPECT_TRUE(info.has_ids);
    EXPECT_TRUE(info.has_truth);
    EXPECT_EQ(info.feature_names, names);
    EXPECT_GT(info.chunk_rows, 0u);  // chunked by rows
    auto m = pkd::read_matrix(p);
    ASSERT_EQ(m.n, n);
    ASSERT_EQ(m.d, d);
    EXPECT_EQ(m.x, x);  // float32 in, float32 out: bit exact
    EXPECT_EQ(m.ids, ids);
    EXPECT_EQ(m.truth, truth);
    EXPECT_EQ(m.feature_names, names);
    EXPECT_EQ(files(), std::vector<std::string>{"m.h5"});  // no temporary left
  }
}

TEST_F(Io, MatrixWithoutOptionalsGetsDefaultNames) {
  auto x = pktest::pattern(4, 2);
  pkd::write_matrix(path("m.h5"), x.data(), 4, 2);
  auto info = pkd::probe(path("m.h5"));
  EXPECT_FALSE(info.has_ids);
  EXPECT_FALSE(info.has_truth);
  EXPECT_TRUE(info.feature_names.empty());
  auto m = pkd::read_matrix(path("m.h5"));
  EXPECT_EQ(m.feature_names, (std::vector<std::string>{"f0", "f1"}));
  EXPECT_TRUE(m.ids.empty());
  EXPECT_TRUE(m.truth.empty());
}

TEST_F(Io, Float64IsAcceptedAndRoundedOnce) {
  // 3 x 70000 values (> the 1 MiB staging buffer, so the conversion runs in
  // several sub-blocks). Each fp64 value must arrive as static_cast<float>(v): one
  // rounding, compared exactly.
  const std::size_t n = 70000, d = 3;
  std::vector<double> x(n * d);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.001 * static_cast<double>(i)) * 1e3 + 1.0 / 3.0;
  pktest::raw_dataset(path("f64.h5"), "/data", H5T_IEEE_F64LE, {n, d}, x.data(), false, 4096);
  auto info = pkd::probe(path("f64.h5"), "/data");
  EXPECT_EQ(info.dtype, "float64");
  auto m = pkd::read_matrix(path("f64.h5"), "/data");
  ASSERT_EQ(m.x.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(m.x[i], static_cast<float>(x[i])) << i;
}

TEST_F(Io, BadInputsGiveOneLineErrorsNamingTheFile) {
  const std::string missing = path("nope.h5");
  expect_error([&] { pkd::probe(missing); }, {missing, "no such file"});
  expect_error([&] { pkd::read_matrix(missing); }, {missing, "no such file"});

  const std::string text = path("notes.txt");
  std::ofstream(text) << "customer,monetary\n1,2\n";
  expect_error([&] { pkd::probe(text); }, {text, "not an HDF5 file"});

  expect_error([&] { pkd::probe(dir_.string()); }, {dir_.string(), "directory"});

  float one = 1;
  const std::string p = path("shapes.h5");
  pktest::raw_dataset(p, "/vec", H5T_IEEE_F32LE, {3}, std::vector<float>{1, 2, 3}.data());
  pktest::raw_dataset(p, "/cube", H5T_IEEE_F32LE, {2, 2, 2}, std::vector<float>(8, one).data(), true);
  pktest::raw_dataset(p, "/ints", H5T_STD_I32LE, {2, 2}, std::vector<std::int32_t>{1, 2, 3, 4}.data(), true);
  pktest::raw_dataset(p, "/empty_rows", H5T_IEEE_F32LE, {0, 4}, nullptr, true);
  pktest::raw_dataset(p, "/empty_cols", H5T_IEEE_F32LE, {4, 0}, nullptr, true);
  expect_error([&] { pkd::probe(p); }, {p, "no dataset /features", "/vec"});
  expect_error([&] { pkd::probe(p, "/group/missing"); }, {p, "no dataset /group/missing"});
  expect_error([&] { pkd::probe(p, "/vec"); }, {p, "/vec", "rank 1"});
  expect_error([&] { pkd::probe(p, "/cube"); }, {p, "/cube", "rank 3"});
  expect_error([&] { pkd::probe(p, "/ints"); }, {p, "/ints", "int32", "float32 or float64"});
  expect_error([&] { pkd::probe(p, "/empty_rows"); }, {p, "0 rows"});
  expect_error([&] { pkd::probe(p, "/empty_cols"); }, {p, "0 columns"});
  expect_error([&] { pkd::read_matrix(p, "/ints"); }, {p, "int32"});
  expect_error([&] { pkd::H5RowSource(p, "/cube", 64 << 20); }, {p, "rank 3"});
}

TEST_F(Io, TruncatedFileIsReported) {
  auto x = pktest::pattern(20000, 8);
  const std::string p = path("t.h5");
  pkd::write_matrix(p, x.data(), 20000, 8);
  std::filesystem::resize_file(p, std::filesystem::file_size(p) / 2);
  expect_error([&] { pkd::probe(p); }, {p, "truncated"});
  expect_error([&] { pkd::read_matrix(p); }, {p, "truncated"});
}

TEST_F(Io, NonFiniteValuesAreCountedAndLocated) {
  const std::size_t n = 40, d = 6;
  auto x = pktest::pattern(n, d);
  x[17 * d + 4] = std::numeric_limits<float>::quiet_NaN();
  x[20 * d + 0] = std::numeric_limits<float>::infinity();
  x[39 * d + 5] = -std::numeric_limits<float>::infinity();
  std::vector<std::string> names = {"recency", "frequency", "tenure", "age", "monetary", "basket"};
  const std::string p = path("nan.h5");
  pkd::write_matrix(p, x.data(), n, d, names);
  expect_error([&] { pkd::read_matrix(p); },
               {p + ":/features has 3 non-finite values (NaN/Inf); first at row 17, column 4 (monetary)"});
  pkd::H5RowSource src(p, "/features", 64 << 20);
  expect_error([&] { src.for_each_block(1, [](const float*, std::size_t, std::size_t) {}); },
               {p, "non-finite", "first at row 17, column 4 (monetary)"});
  // A float64 value beyond float's range cannot be represented: non-finite too.
  std::vector<double> big = {1.0, 1e300, 2.0, 3.0};
  pktest::raw_dataset(path("big.h5"), "/features", H5T_IEEE_F64LE, {2, 2}, big.data());
  expect_error([&] { pkd::read_matrix(path("big.h5")); }, {"1 non-finite value", "row 0, column 1"});
  // column_stats counts instead of failing.
  auto st = pkd::column_stats(p);
  ASSERT_EQ(st.size(), d);
  EXPECT_EQ(st[4].nonfinite, 1u);
  EXPECT_EQ(st[0].nonfinite, 1u);
  EXPECT_EQ(st[5].nonfinite, 1u);
  EXPECT_EQ(st[1].nonfinite, 0u);
  EXPECT_EQ(st[4].name, "monetary");
}

TEST_F(Io, ColumnStatsMatchADirectComputation) {
  const std::size_t n = 5000, d = 4;
  auto x = pktest::pattern(n, d);
  pkd::write_matrix(path("s.h5"), x.data(), n, d);
  // 3 MiB limit -> (3 MiB - 2 MiB) / 32 bytes = 32768 rows: one block; 2 MiB + 32*100
  // bytes -> 100-row blocks: many. Both must agree with a direct fp64 loop.
  for (std::size_t limit : {std::size_t(3) << 20, (std::size_t(2) << 20) + 32 * 100}) {
    auto st = pkd::column_stats(path("s.h5"), "/features", limit);
    for (std::size_t j = 0; j < d; ++j) {
      double mn = INFINITY, mx = -INFINITY, s = 0;
      for (std::size_t i = 0; i < n; ++i) {
        double v = x[i * d + j];
        mn = std::min(mn, v);
        mx = std::max(mx, v);
        s += v;
      }
      EXPECT_EQ(st[j].min, mn);
      EXPECT_EQ(st[j].max, mx);
      // Sums of 5000 values |v| <= 15 in fp64, differently grouped: the difference is
      // below 5000 * 15 * 2^-52 * 5000 ~ 8e-5 in the sum, 2e-8 in the mean.
      EXPECT_NEAR(st[j].mean, s / n, 1e-7);
      EXPECT_EQ(st[j].nonfinite, 0u);
    }
  }
}

TEST_F(Io, ModelRoundTrip) {
  pkd::Model m;
  m.k = 3;
  m.d = 4;
  m.centroids = pktest::pattern(3, 4);
  m.labels = {0, 2, 1, 1, 0};
  m.sizes = {2, 2, 1};
  m.feature_names = {"a", "b", "c", "d"};
  m.transform.log1p_cols = {1, 3};
  m.transform.scale = pkd::Transform::Scale::robust;
  m.transform.center = {0.1, 0.2, 0.3, 1.0 / 3.0};
  m.transform.scale_by = {1, 2, 3, 4.5};
  m.attrs = {{"algorithm", "lloyd"}, {"init", "kmeans++"}, {"seed", 7},         {"iterations", 12},
             {"inertia", 123.456},   {"converged", true},  {"source_file", "x.h5"}, {"tol", 1e-4},
             {"big", std::uint64_t(1) << 63}};
  const std::string p = path("model.h5");
  pkd::write_model(p, m);
  auto r = pkd::read_model(p);
  EXPECT_EQ(r.k, 3u);
  EXPECT_EQ(r.d, 4u);
  EXPECT_EQ(r.centroids, m.centroids);
  EXPECT_EQ(r.labels, m.labels);
  EXPECT_EQ(r.sizes, m.sizes);
  EXPECT_EQ(r.feature_names, m.feature_names);
  EXPECT_EQ(r.transform.log1p_cols, m.transform.log1p_cols);
  EXPECT_EQ(r.transform.scale, m.transform.scale);
  EXPECT_EQ(r.transform.center, m.transform.center);
  EXPECT_EQ(r.transform.scale_by, m.transform.scale_by);
  EXPECT_EQ(r.attrs["algorithm"], "lloyd");
  EXPECT_EQ(r.attrs["seed"], 7);
  EXPECT_EQ(r.attrs["iterations"], 12);
  EXPECT_EQ(r.attrs["inertia"].get<double>(), 123.456);
  EXPECT_EQ(r.attrs["converged"], true);
  EXPECT_EQ(r.attrs["big"].get<std::uint64_t>(), std::uint64_t(1) << 63);
  EXPECT_EQ(r.attrs["k"], 3);
  EXPECT_TRUE(r.attrs.contains("personakit_version"));
  EXPECT_EQ(r.attrs["feature_names"], nlohmann::json(m.feature_names));
  // Any model file is a centroids file for --init.
  std::size_t k = 0, d = 0;
  auto c = pkd::read_centroids(p, "/centroids", &k, &d);
  EXPECT_EQ(k, 3u);
  EXPECT_EQ(d, 4u);
  EXPECT_EQ(c, m.centroids);
  // A model without transform or labels.
  pkd::Model plain;
  plain.k = 1;
  plain.d = 2;
  plain.centroids = {1, 2};
  pkd::write_model(path("plain.h5"), plain);
  auto q = pkd::read_model(path("plain.h5"));
  EXPECT_TRUE(q.transform.empty());
  EXPECT_TRUE(q.labels.empty());
}

TEST_F(Io, LabelsRoundTripAndStreamingWriter) {
  std::vector<std::int32_t> labels = {3, 1, 4, 1, 5, 9, 2, 6};
  std::vector<float> dist = {0.5f, 1.5f, 2.5f, 0, 1e-3f, 7, 8, 9};
  pkd::write_labels(path("l.h5"), labels, dist);
  EXPECT_EQ(pkd::read_labels(path("l.h5")), labels);
  EXPECT_EQ(pkd::read_vector(path("l.h5"), "/distances"), dist);

  {
    pkd::LabelWriter w(path("s.h5"), 8, true);
    w.write(0, labels.data(), dist.data(), 5);
    w.write(5, labels.data() + 5, dist.data() + 5, 3);
    w.set_attrs({{"model", "m.h5"}});
    EXPECT_FALSE(std::filesystem::exists(path("s.h5")));  // not before commit
    w.commit();
  }
  EXPECT_EQ(pkd::read_labels(path("s.h5")), labels);
  EXPECT_EQ(pkd::read_vector(path("s.h5"), "/distances"), dist);
  {
    pkd::LabelWriter w(path("abandoned.h5"), 8, false);
    w.write(0, labels.data(), nullptr, 8);
    expect_error([&] { w.write(6, labels.data(), nullptr, 3); }, {"beyond n = 8"});
  }  // destroyed without commit: nothing left
  EXPECT_EQ(files(), (std::vector<std::string>{"l.h5", "s.h5"}));
  expect_error([&] { pkd::read_labels(path("l.h5"), "/distances"); }, {"float32", "expected integers"});
}

TEST_F(Io, FailedWritesLeaveNothingBehind) {
  auto x = pktest::pattern(10, 3);
  // Inconsistent inputs are refused before anything is created.
  expect_error([&] { pkd::write_matrix(path("a.h5"), x.data(), 10, 3, {"only", "two"}); }, {"2 feature names"});
  pkd::Model bad;
  bad.k = 2;
  bad.d = 3;
  bad.centroids = {1, 2, 3};
  expect_error([&] { pkd::write_model(path("m.h5"), bad); }, {path("m.h5"), "expected k*d = 6"});
  // A directory that does not exist / cannot be written.
  const std::string nodir = path("missing_dir/out.h5");
  expect_error([&] { pkd::write_matrix(nodir, x.data(), 10, 3); }, {nodir, "cannot write"});
  std::filesystem::create_directories(path("ro"));
  std::filesystem::permissions(path("ro"), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  if (::access(path("ro").c_str(), W_OK) != 0) {  // root ignores permissions
    expect_error([&] { pkd::write_labels(path("ro/l.h5"), {1, 2}, {}); }, {path("ro/l.h5"), "cannot write"});
  }
  std::filesystem::permissions(path("ro"), std::filesystem::perms::owner_all);
  EXPECT_TRUE(std::filesystem::is_empty(path("ro")));
  // A model whose transform does not match d is refused; no temporary remains.
  pkd::Model m;
  m.k = 1;
  m.d = 2;
  m.centroids = {1, 2};
  m.transform.scale = pkd::Transform::Scale::standard;
  m.transform.center = {0};
  expect_error([&] { pkd::write_model(path("m2.h5"), m); }, {path("m2.h5"), "transform"});
  EXPECT_EQ(files(), std::vector<std::string>{"ro"});
  // An existing output is replaced only by a complete file.
  pkd::write_matrix(path("keep.h5"), x.data(), 10, 3);
  auto before = pktest::slurp(path("keep.h5"));
  expect_error([&] { pkd::write_matrix(path("keep.h5"), x.data(), 10, 3, {}, {1, 2}); }, {"customer ids"});
  EXPECT_EQ(pktest::slurp(path("keep.h5")), before);
}

TEST_F(Io, AttributeFailureMidWriteRemovesTemporary) {
  // An attribute name HDF5 rejects ("" is invalid) fails after the temporary file
  // exists and /centroids is written: the temporary must be removed.
  pkd::Model m;
  m.k = 1;
  m.d = 1;
  m.centroids = {1};
  m.attrs = {{"", 1}};
  expect_error([&] { pkd::write_model(path("m.h5"), m); }, {"attribute"});
  EXPECT_TRUE(files().empty());
}

TEST_F(Io, ReadVectorAndLabelsValidate) {
  pktest::raw_dataset(path("v.h5"), "/w", H5T_IEEE_F64LE, {3}, std::vector<double>{0.5, 1, 2}.data());
  pktest::raw_dataset(path("v.h5"), "/bad", H5T_IEEE_F32LE, {2}, std::vector<float>{1, NAN}.data(), true);
  pktest::raw_dataset(path("v.h5"), "/l64", H5T_STD_I64LE, {2}, std::vector<std::int64_t>{4, 5}.data(), true);
  EXPECT_EQ(pkd::read_vector(path("v.h5"), "/w"), (std::vector<float>{0.5f, 1.f, 2.f}));
  expect_error([&] { pkd::read_vector(path("v.h5"), "/bad"); }, {"non-finite", "index 1"});
  EXPECT_EQ(pkd::read_labels(path("v.h5"), "/l64"), (std::vector<std::int32_t>{4, 5}));
  expect_error([&] { pkd::read_vector(path("v.h5"), "/nothing"); }, {path("v.h5"), "no dataset /nothing"});
}

}  // namespace
