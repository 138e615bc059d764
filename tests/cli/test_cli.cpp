// In-process tests of the personakit subcommands (drivers/cli.hpp) on tiny generated data.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "personakit/datasets/datasets.hpp"
#include "personakit/error.hpp"
#include "personakit/score.hpp"

namespace fs = std::filesystem;
namespace ds = personakit::datasets;
using namespace personakit::cli;
using nlohmann::json;

namespace {

// One scratch directory for the whole program, removed at exit.
const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path base = fs::temp_directory_path() / ("personakit_test_cli_" + std::to_string(::getpid()));
    fs::remove_all(base);
    fs::create_directories(base);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(fs::temp_directory_path() / ("personakit_test_cli_" + std::to_string(::getpid())), ec);
    });
    return base;
  }();
  return dir;
}
std::string path(const std::string& name) { return (scratch() / name).string(); }

Common quiet_json() {
  Common c;
  c.json = true;
  c.quiet = true;
  return c;
}

// Runs a subcommand, returns its exit code; stdout / stderr captured.
struct Outcome {
  int rc = -1;
  std::string out, err;
  json j() const { return json::parse(out); }
};
template <class Opt, class Fn>
Outcome call(Fn fn, const Opt& o) {
  std::ostringstream out, err;
  Outcome r;
  r.rc = fn(o, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// Small customer data (3 personas) and well-separated blobs, generated once.
const std::string& customers() {
  static const std::string p = [] {
    GenerateOptions g;
    g.common = quiet_json();
    g.rows = 1500;
    g.features = 8;
    g.segments = 3;
    g.seed = 11;
    g.output = path("customers.h5");
    Outcome r = call(run_generate, g);
    EXPECT_EQ(r.rc, 0) << r.err;
    return g.output;
  }();
  return p;
}
const std::string& blobs() {
  static const std::string p = [] {
    GenerateOptions g;
    g.common = quiet_json();
    g.kind = "blobs";
    g.rows = 900;
    g.features = 5;
    g.segments = 4;
    g.separation = 30.0;  // far apart: k-means must recover the truth exactly
    g.seed = 3;
    g.output = path("blobs.h5");
    Outcome r = call(run_generate, g);
    EXPECT_EQ(r.rc, 0) << r.err;
    return g.output;
  }();
  return p;
}

FitOptions fit_opts(const std::string& data, long long k, const std::string& out) {
  FitOptions f;
  f.common = quiet_json();
  f.data = data;
  f.k = k;
  f.output = out;
  f.seed = 7;
  return f;
}

// The error contract: exactly one line, "personakit: error: ...".
void expect_one_error_line(const Outcome& r, const std::string& needle) {
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.rfind("personakit: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

}  // namespace

// ---------------------------------------------------------------- helpers

TEST(CliHelpers, ParseMemory) {
  EXPECT_EQ(parse_memory("512M"), 512ull << 20);
  EXPECT_EQ(parse_memory("2G"), 2ull << 30);
  EXPECT_EQ(parse_memory("64KiB"), 64ull << 10);
  EXPECT_EQ(parse_memory("1048576"), 1048576ull);
  EXPECT_EQ(parse_memory("1.5k"), 1536ull);
  EXPECT_THROW(parse_memory("12Q"), UsageError);
  EXPECT_THROW(parse_memory(""), UsageError);
  EXPECT_THROW(parse_memory("-5M"), UsageError);
}

TEST(CliHelpers, ParseKRange) {
  EXPECT_EQ(parse_k_range("2..5"), (std::vector<std::size_t>{2, 3, 4, 5}));
  EXPECT_EQ(parse_k_range("2..10:4"), (std::vector<std::size_t>{2, 6, 10}));
  EXPECT_EQ(parse_k_range("8,3,5,3"), (std::vector<std::size_t>{3, 5, 8}));
  EXPECT_THROW(parse_k_range("5..2"), UsageError);
  EXPECT_THROW(parse_k_range("0..3"), UsageError);
  EXPECT_THROW(parse_k_range("a..b"), UsageError);
  EXPECT_THROW(parse_k_range("2..4:0"), UsageError);
}

TEST(CliHelpers, AtomicWriteLeavesNoTemporary) {
  const std::string p = path("atomic/out.txt");
  fs::create_directories(scratch() / "atomic");
  write_file_atomic(p, "hello\n");
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  EXPECT_EQ(s, "hello");
  std::size_t files = 0;
  for (auto& e : fs::directory_iterator(scratch() / "atomic")) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
  EXPECT_THROW(write_file_atomic(path("no_dir/out.txt"), "x"), personakit::Error);
  EXPECT_FALSE(fs::exists(path("no_dir")));
}

// ---------------------------------------------------------------- generate / info

TEST(CliGenerate, WritesTheRequestedShapeDeterministically) {
  GenerateOptions g;
  g.common = quiet_json();
  g.rows = 300;
  g.features = 7;
  g.segments = 4;
  g.seed = 99;
  g.output = path("gen_a.h5");
  Outcome a = call(run_generate, g);
  ASSERT_EQ(a.rc, 0) << a.err;
  json j = a.j();
  EXPECT_EQ(j["rows"], 300);
  EXPECT_EQ(j["features"], 7);
  EXPECT_EQ(j["output"], g.output);
  g.output = path("gen_b.h5");
  ASSERT_EQ(call(run_generate, g).rc, 0);
  ds::Matrix ma = ds::read_matrix(path("gen_a.h5"));
  ds::Matrix mb = ds::read_matrix(path("gen_b.h5"));
  EXPECT_EQ(ma.n, 300u);
  EXPECT_EQ(ma.d, 7u);
  EXPECT_EQ(ma.x, mb.x);  // same seed, same values
  EXPECT_EQ(ma.truth.size(), 300u);
}

TEST(CliGenerate, BadOptionsAreUsageErrors) {
  GenerateOptions g;
  g.common = quiet_json();
  g.rows = 0;
  g.output = path("never.h5");
  Outcome r = call(run_generate, g);
  EXPECT_EQ(r.rc, kExitUsage);
  expect_one_error_line(r, "--rows");
  EXPECT_FALSE(fs::exists(g.output));
}

TEST(CliInfo, DataFileJson) {
  InfoOptions o;
  o.common = quiet_json();
  o.file = customers();
  Outcome r = call(run_info, o);
  ASSERT_EQ(r.rc, 0) << r.err;
  json j = r.j();
  EXPECT_EQ(j["kind"], "data");
  EXPECT_EQ(j["rows"], 1500);
  EXPECT_EQ(j["cols"], 8);
  EXPECT_EQ(j["dtype"], "float32");
  EXPECT_EQ(j["nonfinite"], 0);
  ASSERT_EQ(j["features"].size(), 8u);
  for (auto& f : j["features"]) {
    EXPECT_LE(f["min"].get<double>(), f["mean"].get<double>());
    EXPECT_LE(f["mean"].get<double>(), f["max"].get<double>());
  }
  // The human table names every feature.
  o.common.json = false;
  Outcome t = call(run_info, o);
  ASSERT_EQ(t.rc, 0);
  for (auto& f : j["features"]) EXPECT_NE(t.out.find(f["name"].get<std::string>()), std::string::npos);
}

// ---------------------------------------------------------------- fit / predict / score

TEST(CliFit, JsonHasEveryKeyAndTheModelIsWritten) {
  FitOptions f = fit_opts(customers(), 3, path("fit_keys.h5"));
  f.algorithm = "lloyd";
  Outcome r = call(run_fit, f);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << "quiet fit printed: " << r.err;
  json j = r.j();
  for (const char* key : {"k", "n_samples", "n_features", "algorithm", "init", "iterations", "converged", "inertia",
                          "seconds", "distance_evaluations", "lloyd_equivalent", "isa", "threads", "seed",
                          "cluster_sizes", "output"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["k"], 3);
  EXPECT_EQ(j["n_samples"], 1500);
  EXPECT_EQ(j["n_features"], 8);
  EXPECT_EQ(j["algorithm"], "lloyd");
  EXPECT_EQ(j["init"], "kmeans++");
  EXPECT_GT(j["inertia"].get<double>(), 0.0);
  std::int64_t total = 0;
  for (auto s : j["cluster_sizes"]) total += s.get<std::int64_t>();
  EXPECT_EQ(total, 1500);

  ds::Model m = ds::read_model(f.output);
  EXPECT_EQ(m.k, 3u);
  EXPECT_EQ(m.d, 8u);
  EXPECT_EQ(m.labels.size(), 1500u);
  EXPECT_EQ(m.attrs["algorithm"], "lloyd");
  EXPECT_EQ(m.attrs["k"], 3);
  EXPECT_DOUBLE_EQ(m.attrs["inertia"].get<double>(), j["inertia"].get<double>());
  EXPECT_EQ(m.attrs["source_dataset"], "/features");
  EXPECT_TRUE(m.attrs.contains("personakit_version"));
  EXPECT_EQ(m.feature_names.size(), 8u);
}

TEST(CliFit, HumanSummaryNamesTheEssentials) {
  FitOptions f = fit_opts(customers(), 3, path("fit_human.h5"));
  f.common.json = false;
  Outcome r = call(run_fit, f);
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* word : {"k 3", "algorithm", "iterations", "inertia", "cluster sizes", "fit_human.h5"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " missing from:\n" << r.out;
}

TEST(CliFit, ProgressGoesToStderrUnlessQuiet) {
  FitOptions f = fit_opts(customers(), 3, path("fit_progress.h5"));
  f.common.quiet = false;
  f.common.progress_after = 0;  // every iteration, however short the fit
  f.tol = 0;
  Outcome r = call(run_fit, f);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("iter 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("inertia"), std::string::npos);
  EXPECT_NO_THROW((void)r.j());  // stdout still holds only the JSON object
}

// predict on the training rows reproduces fit's labels, with the transform re-applied.
TEST(CliFit, ScaleAndLog1pAreStoredAndReappliedByPredict) {
  const auto names = ds::read_feature_names(customers());
  ASSERT_EQ(names.size(), 8u);
  FitOptions f = fit_opts(customers(), 4, path("fit_scaled.h5"));
  f.scale = "standard";
  f.log1p = names[2] + ",3";  // one by name, one by index
  Outcome r = call(run_fit, f);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.j()["scale"], "standard");
  ds::Model m = ds::read_model(f.output);
  EXPECT_EQ(m.transform.scale, ds::Transform::Scale::standard);
  EXPECT_EQ(m.transform.log1p_cols, (std::vector<int>{2, 3}));
  ASSERT_EQ(m.transform.center.size(), 8u);

  PredictOptions p;
  p.common = quiet_json();
  p.data = customers();
  p.model = f.output;
  p.output = path("pred_scaled.h5");
  Outcome pr = call(run_predict, p);
  ASSERT_EQ(pr.rc, 0) << pr.err;
  EXPECT_EQ(ds::read_labels(p.output), m.labels);
  // predict's inertia is the model's (same rows, same transform, same centroids):
  // fp64 sums of the same fp32 distances, possibly in another order -> 1e-9 relative.
  EXPECT_NEAR(pr.j()["inertia"].get<double>(), m.attrs["inertia"].get<double>(),
              1e-9 * m.attrs["inertia"].get<double>());

  // The streamed predict writes the same labels.
  p.stream = true;
  p.memory_limit = "3M";
  p.output = path("pred_scaled_stream.h5");
  Outcome ps = call(run_predict, p);
  ASSERT_EQ(ps.rc, 0) << ps.err;
  EXPECT_EQ(ds::read_labels(p.output), m.labels);
}

TEST(CliFit, InitFromAModelFileContinuesFromItsCentroids) {
  // A fit run to strict convergence (tol 0): one more Lloyd pass from its centroids
  // finds the same labels, hence the same means, bit for bit.
  FitOptions a = fit_opts(blobs(), 4, path("init_a.h5"));
  a.algorithm = "lloyd";
  a.tol = 0;
  Outcome ra = call(run_fit, a);
  ASSERT_EQ(ra.rc, 0) << ra.err;
  ASSERT_TRUE(ra.j()["converged"].get<bool>());

  FitOptions b = fit_opts(blobs(), 4, path("init_b.h5"));
  b.algorithm = "lloyd";
  b.init = a.output;
  b.max_iter = 1;
  b.tol = 0;
  Outcome rb = call(run_fit, b);
  ASSERT_EQ(rb.rc, 0) << rb.err;
  EXPECT_EQ(rb.j()["init"], a.output);
  ds::Model ma = ds::read_model(a.output), mb = ds::read_model(b.output);
  EXPECT_EQ(ma.centroids, mb.centroids);
  EXPECT_EQ(ma.labels, mb.labels);
  EXPECT_EQ(mb.attrs["init"], "file");

  // k or d that do not match the file: one error line naming it, no model written.
  FitOptions c = fit_opts(blobs(), 3, path("init_c.h5"));
  c.init = a.output;
  Outcome rc = call(run_fit, c);
  EXPECT_EQ(rc.rc, kExitData);
  expect_one_error_line(rc, "has 4 centroids but -k is 3");
  EXPECT_FALSE(fs::exists(c.output));
}

TEST(CliFit, StreamedFitMatchesInMemoryFit) {
  FitOptions f = fit_opts(customers(), 3, path("mem.h5"));
  f.algorithm = "lloyd";
  Outcome a = call(run_fit, f);
  ASSERT_EQ(a.rc, 0) << a.err;
  f.output = path("streamed.h5");
  f.stream = true;
  f.memory_limit = "3M";
  Outcome b = call(run_fit, f);
  ASSERT_EQ(b.rc, 0) << b.err;
  EXPECT_TRUE(b.j()["streamed"].get<bool>());
  EXPECT_EQ(ds::read_model(path("mem.h5")).centroids, ds::read_model(path("streamed.h5")).centroids);
  EXPECT_EQ(a.j()["inertia"], b.j()["inertia"]);
}

TEST(CliFit, DataAboveTheMemoryLimitAreStreamed) {
  // 80,000 x 8 float32 = 2.56 MB > the 2.3 MiB limit: fit streams without --stream
  // (the source's fixed overhead is 2 MiB, leaving blocks of ~39k rows).
  GenerateOptions g;
  g.common = quiet_json();
  g.rows = 80000;
  g.features = 8;
  g.segments = 3;
  g.output = path("big.h5");
  ASSERT_EQ(call(run_generate, g).rc, 0);
  // Same initial centroids for both (a 1-iteration fit's model): the streamed Lloyd
  // passes must then reproduce the in-memory ones bit for bit.
  FitOptions i0 = fit_opts(g.output, 3, path("big_init.h5"));
  i0.max_iter = 1;
  ASSERT_EQ(call(run_fit, i0).rc, 0);
  FitOptions f = fit_opts(g.output, 3, path("big_stream.h5"));
  f.algorithm = "lloyd";
  f.init = i0.output;
  f.max_iter = 5;
  f.memory_limit = "2.3M";
  Outcome s = call(run_fit, f);
  ASSERT_EQ(s.rc, 0) << s.err;
  EXPECT_TRUE(s.j()["streamed"].get<bool>());
  f.memory_limit.clear();
  f.output = path("big_mem.h5");
  Outcome m = call(run_fit, f);
  ASSERT_EQ(m.rc, 0) << m.err;
  EXPECT_FALSE(m.j()["streamed"].get<bool>());
  EXPECT_EQ(ds::read_model(path("big_stream.h5")).centroids, ds::read_model(path("big_mem.h5")).centroids);
}

TEST(CliFit, UnitWeightsChangeNothing) {
  ds::Matrix m = ds::read_matrix(blobs());
  // The public writer stores 1-D int32 data only as /truth: a /truth of all ones
  // serves as the weights dataset (read_vector converts it to fp32).
  ds::write_matrix(path("w_data.h5"), m.x.data(), m.n, m.d, {}, {}, std::vector<std::int32_t>(m.n, 1));
  FitOptions a = fit_opts(path("w_data.h5"), 4, path("w_none.h5"));
  a.algorithm = "lloyd";
  FitOptions b = a;
  b.output = path("w_ones.h5");
  b.weights = "/truth";  // every entry 1
  Outcome ra = call(run_fit, a), rb = call(run_fit, b);
  ASSERT_EQ(ra.rc, 0) << ra.err;
  ASSERT_EQ(rb.rc, 0) << rb.err;
  EXPECT_EQ(ds::read_model(a.output).centroids, ds::read_model(b.output).centroids);
  EXPECT_EQ(ds::read_model(b.output).attrs["weights_dataset"], "/truth");
}

TEST(CliFit, EveryAlgorithmRunsAndExactOnesAgreeWithLloyd) {
  double lloyd = 0;
  for (std::string alg : {"lloyd", "screened", "elkan", "hamerly", "yinyang", "exponion", "auto", "minibatch"}) {
    FitOptions f = fit_opts(blobs(), 4, path("alg_" + alg + ".h5"));
    f.algorithm = alg;
    Outcome r = call(run_fit, f);
    ASSERT_EQ(r.rc, 0) << alg << ": " << r.err;
    double inertia = r.j()["inertia"].get<double>();
    EXPECT_TRUE(r.j().contains("screen_evaluations")) << alg;
    if (alg != "screened") EXPECT_EQ(r.j()["screen_evaluations"].get<std::uint64_t>(), 0u) << alg;
    // Screened Lloyd is Lloyd's fit bit for bit: the same inertia, exactly.
    if (alg == "screened") EXPECT_EQ(inertia, lloyd);
    // Same seed -> same k-means++ centroids; the exact variants make Lloyd's
    // assignments at every iteration, so the inertia agrees to summation-order
    // rounding (issue 4 asks 1e-6 relative).
    if (alg == "lloyd") {
      lloyd = inertia;
    } else if (alg != "minibatch") {
      EXPECT_NEAR(inertia, lloyd, 1e-6 * lloyd) << alg;
    }
  }
}

TEST(CliRoundTrip, GenerateFitPredictScoreRecoversBlobs) {
  FitOptions f = fit_opts(blobs(), 4, path("rt_model.h5"));
  f.n_init = 3;
  Outcome fr = call(run_fit, f);
  ASSERT_EQ(fr.rc, 0) << fr.err;

  PredictOptions p;
  p.common = quiet_json();
  p.data = blobs();
  p.model = f.output;
  p.output = path("rt_labels.h5");
  Outcome pr = call(run_predict, p);
  ASSERT_EQ(pr.rc, 0) << pr.err;
  json pj = pr.j();
  EXPECT_EQ(pj["n_samples"], 900);
  EXPECT_EQ(pj["cluster_sizes"].size(), 4u);

  ScoreOptions s;
  s.common = quiet_json();
  s.data = blobs();
  s.labels = p.output;
  s.use_truth = true;
  Outcome sr = call(run_score, s);
  ASSERT_EQ(sr.rc, 0) << sr.err;
  json sj = sr.j();
  for (const char* key : {"inertia", "silhouette", "silhouette_simplified", "davies_bouldin", "calinski_harabasz",
                          "ari", "nmi", "ami", "homogeneity", "completeness", "v_measure"})
    ASSERT_TRUE(sj.contains(key)) << key;
  // Blobs 30 spreads apart are recovered exactly: every agreement score is 1.
  for (const char* key : {"ari", "nmi", "ami", "homogeneity", "completeness", "v_measure"})
    EXPECT_NEAR(sj[key].get<double>(), 1.0, 1e-12) << key;
  EXPECT_GT(sj["silhouette"].get<double>(), 0.8);
  // The labels' own means are the model's centroids (converged Lloyd), so the
  // inertia agrees with the fit's up to rounding. The fit sums canonical fp32
  // distances |x|^2 - 2x.c + |c|^2, whose cancellation error per row is about
  // 4 eps32 (|x|^2 + |c|^2); blobs 30 spreads apart sit far from the origin
  // (|x|^2 ~ 1e3-1e4 x the within-blob distance), giving ~1e-4 relative: allow 1e-3.
  EXPECT_NEAR(sj["inertia"].get<double>(), fr.j()["inertia"].get<double>(), 1e-3 * fr.j()["inertia"].get<double>());

  // --model gives the same agreement scores (training labels).
  ScoreOptions sm = s;
  sm.labels.clear();
  sm.model = f.output;
  sm.metrics = "ari,silhouette";
  Outcome smr = call(run_score, sm);
  ASSERT_EQ(smr.rc, 0) << smr.err;
  json smj = smr.j();
  EXPECT_NEAR(smj["ari"].get<double>(), 1.0, 1e-12);
  EXPECT_FALSE(smj.contains("nmi"));  // only what was asked
}

TEST(CliScore, SampledSilhouetteAndNoTruthByDefault) {
  FitOptions f = fit_opts(customers(), 3, path("score_model.h5"));
  ASSERT_EQ(call(run_fit, f).rc, 0);
  ScoreOptions s;
  s.common = quiet_json();
  s.data = customers();
  s.model = f.output;
  s.sample_size = 500;
  s.seed = 4;
  Outcome r = call(run_score, s);
  ASSERT_EQ(r.rc, 0) << r.err;
  json j = r.j();
  EXPECT_EQ(j["silhouette_sample_size"], 500);
  EXPECT_FALSE(j.contains("ari"));  // external scores only with --truth
  EXPECT_GE(j["silhouette"].get<double>(), -1.0);
  EXPECT_LE(j["silhouette"].get<double>(), 1.0);
  // same seed, same sample, same value
  Outcome r2 = call(run_score, s);
  EXPECT_EQ(r2.j()["silhouette"], j["silhouette"]);
}

// Streamed scores (--stream / --memory-limit) equal the in-memory ones bit for bit:
// both feed ScoreAccumulator blocks that are multiples of its chunk (8192 rows), so the
// per-chunk partial sums and their merge order are the same (see score.hpp); the
// in-memory davies_bouldin() / calinski_harabasz() are that accumulator fed one block.
TEST(CliScore, StreamedEqualsInMemory) {
  GenerateOptions g;
  g.common = quiet_json();
  g.rows = 60000;
  g.features = 8;
  g.segments = 4;
  g.seed = 21;
  g.output = path("stream_customers.h5");
  ASSERT_EQ(call(run_generate, g).rc, 0);
  FitOptions f = fit_opts(g.output, 4, path("stream_model.h5"));
  f.scale = "standard";  // the model's transform is applied to the streamed blocks too
  f.max_iter = 10;
  ASSERT_EQ(call(run_fit, f).rc, 0);
  PredictOptions p;
  p.common = quiet_json();
  p.data = g.output;
  p.model = f.output;
  p.output = path("stream_labels.h5");
  ASSERT_EQ(call(run_predict, p).rc, 0);
  // A labelling with noise rows and non-contiguous values.
  std::vector<std::int32_t> noisy = ds::read_labels(p.output);
  for (std::size_t i = 0; i < noisy.size(); ++i) noisy[i] = i % 13 == 0 ? -1 : noisy[i] * 10 + 5;
  ds::write_labels(path("stream_noisy.h5"), noisy, {});

  const std::vector<std::string> keys = {"inertia", "davies_bouldin", "calinski_harabasz", "silhouette_simplified",
                                         "silhouette"};
  auto both = [&](ScoreOptions s, int passes) {
    s.common = quiet_json();
    s.data = g.output;
    s.metrics = "inertia,davies_bouldin,calinski_harabasz,silhouette_simplified,silhouette";
    s.sample_size = 3000;  // the sampled silhouette reads its rows with read_rows when streamed
    s.seed = 9;
    Outcome mem = call(run_score, s);
    ScoreOptions st = s;
    st.stream = true;
    st.memory_limit = "5M";  // blocks of 16,384 rows: 4 blocks
    Outcome str = call(run_score, st);
    EXPECT_EQ(mem.rc, 0) << mem.err;
    EXPECT_EQ(str.rc, 0) << str.err;
    if (mem.rc || str.rc) return json();
    const json a = mem.j(), b = str.j();
    EXPECT_FALSE(a["streamed"].get<bool>());
    EXPECT_TRUE(b["streamed"].get<bool>());
    EXPECT_EQ(b["passes"], passes);
    EXPECT_LT(b["block_rows"].get<std::size_t>(), 60000u);
    EXPECT_EQ(b["block_rows"].get<std::size_t>() % 8192, 0u);
    for (const auto& k : keys) {
      EXPECT_TRUE(a[k].is_number()) << k;
      EXPECT_EQ(a[k].get<double>(), b[k].get<double>()) << k;  // bit for bit (shortest round-trip JSON)
    }
    EXPECT_EQ(a["n_samples"], b["n_samples"]);
    EXPECT_EQ(a["k"], b["k"]);
    return b;
  };
  ScoreOptions lab;
  lab.labels = p.output;
  const json jl = both(lab, 2);  // no centroids: pass 1 means, pass 2 distances
  ScoreOptions mod;
  mod.model = f.output;
  both(mod, 1);                  // the model's centroids: one pass
  ScoreOptions noise;
  noise.labels = path("stream_noisy.h5");
  noise.skip_noise = true;
  const json jn = both(noise, 2);
  EXPECT_EQ(jn["noise_rows"], 60000 / 13 + 1);

  // The library's in-memory scores on the same rows and labels (raw rows: --labels has
  // no transform): Davies–Bouldin and Calinski–Harabasz bit for bit.
  const ds::Matrix m = ds::read_matrix(g.output);
  const std::vector<std::int32_t> l = ds::read_labels(p.output);
  EXPECT_EQ(jl["davies_bouldin"].get<double>(), personakit::davies_bouldin(m.x.data(), m.n, m.d, l.data()));
  EXPECT_EQ(jl["calinski_harabasz"].get<double>(), personakit::calinski_harabasz(m.x.data(), m.n, m.d, l.data()));
  EXPECT_EQ(jl["silhouette"].get<double>(), personakit::silhouette_sampled(m.x.data(), m.n, m.d, l.data(), 3000, 9));
  EXPECT_EQ(jn["davies_bouldin"].get<double>(),
            personakit::davies_bouldin(m.x.data(), m.n, m.d, noisy.data(), /*skip_negative=*/true));
}

TEST(CliScore, StreamedBadInput) {
  ScoreOptions s;
  s.common = quiet_json();
  s.data = customers();
  FitOptions f = fit_opts(customers(), 3, path("score_stream_model.h5"));
  ASSERT_EQ(call(run_fit, f).rc, 0);
  s.model = f.output;
  s.metrics = "davies_bouldin";
  s.stream = true;
  s.memory_limit = "2M";  // below the source's 2 MiB overhead + one 8192-row block
  Outcome r = call(run_score, s);
  EXPECT_EQ(r.rc, 1);
  expect_one_error_line(r, "--memory-limit 2M is too small to stream the scores");
  EXPECT_TRUE(r.out.empty());
  s.memory_limit = "64M";
  s.metrics = "silhouette";  // exact: needs the whole matrix
  r = call(run_score, s);
  EXPECT_EQ(r.rc, 2);
  expect_one_error_line(r, "exact silhouette needs the whole");
  // Default metrics, streamed: the exact silhouette is skipped with a note, not an error.
  s.metrics.clear();
  r = call(run_score, s);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(r.j()["silhouette"].is_null());
  EXPECT_TRUE(r.j()["davies_bouldin"].is_number());
}

// ---------------------------------------------------------------- sweep

TEST(CliSweep, JsonAndCsvPerK) {
  SweepOptions o;
  o.common = quiet_json();
  o.data = blobs();
  o.k_range = "2..6";
  o.silhouette = "exact";
  o.csv = path("sweep.csv");
  o.seed = 1;
  Outcome r = call(run_sweep, o);
  ASSERT_EQ(r.rc, 0) << r.err;
  json j = r.j();
  ASSERT_EQ(j["results"].size(), 5u);
  double prev = INFINITY;
  for (auto& e : j["results"]) {
    for (const char* key : {"k", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin"})
      EXPECT_TRUE(e.contains(key)) << key;
    // k-means++ with more centroids on 4 far-apart blobs: inertia falls with K.
    EXPECT_LT(e["inertia"].get<double>(), prev);
    prev = e["inertia"].get<double>();
  }
  // Four far-apart blobs: the score criteria find K = 4. (The elbow rules look at
  // the shape of the inertia curve only: with unequal blob distances the largest
  // slope drop may come at K = 3, so they are checked on known curves below.)
  for (const char* e : {"second_difference", "kneedle"}) {
    EXPECT_GE(j["elbow"][e].get<int>(), 3);
    EXPECT_LE(j["elbow"][e].get<int>(), 5);
  }
  EXPECT_EQ(j["best_k"]["silhouette"], 4);
  EXPECT_EQ(j["best_k"]["calinski_harabasz"], 4);
  EXPECT_EQ(j["best_k"]["davies_bouldin"], 4);

  std::ifstream in(o.csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "k,inertia,silhouette,calinski_harabasz,davies_bouldin,iterations,converged,seconds");
  int rows = 0;
  while (std::getline(in, line)) ++rows;
  EXPECT_EQ(rows, 5);
}

TEST(CliSweep, ElbowRulesOnKnownCurves) {
  // I(K) = 100, 50, 10, 8, 6, 4 for K = 1..6: slope drops 10, 38, 0, 0 at K = 2..5
  // -> K = 3; kneedle: y - x = 0, .32, .54, .36, .18, 0 -> K = 3.
  std::vector<std::size_t> ks{1, 2, 3, 4, 5, 6};
  std::vector<double> in{100, 50, 10, 8, 6, 4};
  EXPECT_EQ(elbow_second_difference(ks, in), 3u);
  EXPECT_EQ(elbow_kneedle(ks, in), 3u);
  // Uneven steps: slopes, not raw differences. K = 2, 4, 8, 16 with I = 80, 20, 12, 8:
  // slopes 30, 2, 0.5 -> drops 28 at K=4, 1.5 at K=8 -> K = 4.
  EXPECT_EQ(elbow_second_difference({2, 4, 8, 16}, {80, 20, 12, 8}), 4u);
  EXPECT_EQ(elbow_kneedle({2, 4, 8, 16}, {80, 20, 12, 8}), 4u);
  // Too few points or a flat curve: no elbow (0).
  EXPECT_EQ(elbow_second_difference({2, 3}, {5, 4}), 0u);
  EXPECT_EQ(elbow_kneedle({2, 3, 4}, {5, 5, 5}), 0u);
}

// ---------------------------------------------------------------- bad input, in-process

TEST(CliBadInput, MissingFile) {
  FitOptions f = fit_opts(path("nope.h5"), 2, path("bad_out.h5"));
  Outcome r = call(run_fit, f);
  EXPECT_EQ(r.rc, kExitData);
  expect_one_error_line(r, "nope.h5: no such file");
  EXPECT_FALSE(fs::exists(f.output));
}

TEST(CliBadInput, KBelowOneIsAUsageError) {
  FitOptions f = fit_opts(customers(), 0, path("bad_out.h5"));
  Outcome r = call(run_fit, f);
  EXPECT_EQ(r.rc, kExitUsage);
  expect_one_error_line(r, "k must be at least 1");
}

TEST(CliBadInput, KAboveDistinctRows) {
  std::vector<float> x;
  for (int i = 0; i < 20; ++i)
    for (int j = 0; j < 3; ++j) x.push_back(float(i % 2) + float(j));  // 2 distinct rows
  ds::write_matrix(path("two_rows.h5"), x.data(), 20, 3);
  FitOptions f = fit_opts(path("two_rows.h5"), 3, path("bad_out.h5"));
  Outcome r = call(run_fit, f);
  EXPECT_EQ(r.rc, kExitData);
  expect_one_error_line(r, "k = 3 but the data have only 2 distinct rows");
  EXPECT_FALSE(fs::exists(f.output));
  f.k = 2;  // and k = distinct rows is fine
  EXPECT_EQ(call(run_fit, f).rc, 0);
}

TEST(CliBadInput, NaNNamesCountAndFirstPosition) {
  std::vector<float> x(30 * 4, 1.0f);
  for (std::size_t i = 0; i < 30; ++i) x[i * 4] = float(i);
  x[5 * 4 + 2] = NAN;
  x[9 * 4 + 1] = INFINITY;
  ds::write_matrix(path("nan.h5"), x.data(), 30, 4);
  FitOptions f = fit_opts(path("nan.h5"), 2, path("bad_out.h5"));
  Outcome r = call(run_fit, f);
  EXPECT_EQ(r.rc, kExitData);
  expect_one_error_line(r, "nan.h5");
  EXPECT_NE(r.err.find("2 non-finite"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("row 5, column 2"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(f.output));
}

TEST(CliBadInput, ModelDimensionMismatch) {
  FitOptions f = fit_opts(customers(), 2, path("d8_model.h5"));
  ASSERT_EQ(call(run_fit, f).rc, 0);
  std::vector<float> x(40 * 5);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7);
  ds::write_matrix(path("d5.h5"), x.data(), 40, 5);
  PredictOptions p;
  p.common = quiet_json();
  p.data = path("d5.h5");
  p.model = f.output;
  p.output = path("bad_labels.h5");
  Outcome r = call(run_predict, p);
  EXPECT_EQ(r.rc, kExitData);
  expect_one_error_line(r, "has 5 features but the model");
  EXPECT_FALSE(fs::exists(p.output));
}

TEST(CliBadInput, UnwritableOutput) {
  FitOptions f = fit_opts(customers(), 2, path("missing_dir/model.h5"));
  Outcome r = call(run_fit, f);
  EXPECT_EQ(r.rc, kExitData);
  expect_one_error_line(r, "cannot write output");
  EXPECT_FALSE(fs::exists(path("missing_dir")));
  // a path whose parent is a regular file
  f.output = customers() + "/model.h5";
  Outcome r2 = call(run_fit, f);
  EXPECT_EQ(r2.rc, kExitData);
  expect_one_error_line(r2, "cannot write output");
}

// ---------------------------------------------------------------- the whole command line

TEST(CliCommandLine, GlobalOptionsAndDeterminismAcrossThreads) {
  auto run = [](std::vector<std::string> args) {
    std::vector<const char*> argv{"personakit"};
    for (auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    int rc = run_cli(int(argv.size()), argv.data(), out, err);
    return Outcome{rc, out.str(), err.str()};
  };
  Outcome a = run({"--threads", "1", "--quiet", "--json", "fit", customers(), "-k", "3", "-o", path("t1.h5")});
  ASSERT_EQ(a.rc, 0) << a.err;
  EXPECT_EQ(a.j()["threads"], 1);
  // global flags may also follow the subcommand
  Outcome b = run({"fit", customers(), "-k", "3", "-o", path("t2.h5"), "--threads", "2", "--json", "--quiet"});
  ASSERT_EQ(b.rc, 0) << b.err;
  EXPECT_EQ(b.j()["threads"], 2);
  EXPECT_EQ(ds::read_model(path("t1.h5")).centroids, ds::read_model(path("t2.h5")).centroids);

  Outcome h = run({"fit", "--help"});
  EXPECT_EQ(h.rc, 0);
  EXPECT_NE(h.out.find("Example:"), std::string::npos);
  Outcome u = run({"fit", customers(), "-o", path("t3.h5")});  // no -k
  EXPECT_EQ(u.rc, kExitUsage);
  expect_one_error_line(u, "-k");
  Outcome s = run({"--isa", "scalar", "--json", "--quiet", "fit", customers(), "-k", "2", "-o", path("t4.h5")});
  ASSERT_EQ(s.rc, 0) << s.err;
  EXPECT_EQ(s.j()["isa"], "scalar");
}
