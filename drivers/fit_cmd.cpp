// personakit fit: k-means on an HDF5 matrix, in memory or streamed, to a model file.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>

#include "cli.hpp"
#include "common.hpp"
#include "fit_common.hpp"
#include "personakit/isa.hpp"
#include "personakit/kmeans.hpp"
#include "prep.hpp"

#ifndef PERSONAKIT_CLI_VERSION
#define PERSONAKIT_CLI_VERSION "0.0.0"
#endif

namespace personakit::cli {

Algorithm algorithm_option(const std::string& s) {
  try {
    return parse_algorithm(lower(s));
  } catch (const personakit::Error&) {
    usage("--algorithm '" + s + "': expected lloyd, screened, elkan, hamerly, yinyang, exponion, minibatch or auto");
  }
}

ProgressFn fit_progress(std::ostream& err, const Common& c, int n_init, const std::string& what) {
  auto printer = std::make_shared<ProgressPrinter>(err, c);
  return [printer, n_init, what](const Progress& p) -> bool {
    if (g_interrupted.load(std::memory_order_relaxed)) return false;  // fit throws "cancelled"
    if (!printer->enabled(p.seconds)) return true;
    std::ostringstream s;
    s << what << ":";
    if (n_init > 1) s << " run " << (p.run + 1) << "/" << n_init;
    s << " iter " << p.iteration << "  inertia " << std::setprecision(7) << p.inertia << "  shift "
      << std::setprecision(3) << std::scientific << p.shift << std::defaultfloat;
    if (p.rows_done) s << "  rows " << format_count(static_cast<double>(p.rows_done));
    s << "  elapsed " << std::fixed << std::setprecision(1) << p.seconds << " s";
    printer->line(p.seconds, s.str());
    return true;
  };
}

namespace {

struct InitChoice {
  Init init = Init::kmeanspp;
  std::string file;             // when init == given
  std::vector<float> centroids; // read from file
};

InitChoice init_option(const std::string& s) {
  InitChoice c;
  const std::string v = lower(s);
  if (v == "kmeans++" || v == "k-means++" || v == "random" || v == "kmeans||" || v == "k-means||") {
    c.init = parse_init(v.find('-') != std::string::npos ? v.substr(0, 1) + v.substr(2) : v);
    return c;
  }
  std::error_code ec;
  if (!std::filesystem::exists(s, ec))
    usage("--init '" + s + "': neither kmeans++, random, kmeans|| nor an existing centroids file");
  c.init = Init::given;
  c.file = s;
  return c;
}

std::string init_label(const InitChoice& c) {
  return c.init == Init::given ? c.file : std::string(init_name(c.init));
}

}  // namespace

int run_fit(const FitOptions& o, std::ostream& out, std::ostream& err) {
  return guarded(err, [&]() -> int {
    Stopwatch total;
    // ---- options ----
    if (o.k < 1) usage("-k " + std::to_string(o.k) + ": k must be at least 1");
    if (o.max_iter < 0) usage("--max-iter must be >= 0");
    if (!(o.tol >= 0)) usage("--tol must be >= 0");
    if (o.n_init < 1) usage("--n-init must be at least 1");
    if (o.batch_size < 1) usage("--batch-size must be at least 1");
    if (o.refine < 0) usage("--refine must be >= 0");
    const std::size_t k = static_cast<std::size_t>(o.k);
    const Algorithm algo = algorithm_option(o.algorithm);
    if (o.coreset > 0 && algo != Algorithm::minibatch) usage("--coreset applies to --algorithm minibatch only");
    if (o.coreset > 0 && o.coreset < k)
      usage("--coreset " + std::to_string(o.coreset) + ": must be at least k = " + std::to_string(k));
    const auto sc = scale_option(o.scale);
    const std::size_t mem = o.memory_limit.empty() ? 0 : parse_memory(o.memory_limit);
    InitChoice init = init_option(o.init);
    check_output_path(o.output);
    require_file(o.data);
    if (same_file(o.data, o.output)) usage("-o " + o.output + ": would overwrite the input data");

    // ---- the data ----
    const ds::DatasetInfo info = with_file(o.data, [&] { return ds::probe(o.data, o.dataset); });
    const std::size_t n = info.rows, d = info.cols;
    std::vector<std::string> names = info.feature_names;
    if (names.size() != d) {
      names.clear();
      for (std::size_t j = 0; j < d; ++j) names.push_back("f" + std::to_string(j));
    }
    const auto log1p_cols = log1p_option(o.log1p, info.feature_names);
    if (k > n)
      fail(o.data, "k = " + std::to_string(k) + " but the data have only " + std::to_string(n) + " rows");
    const bool stream = o.stream || (mem > 0 && double(n) * double(d) * 4.0 > double(mem));
    const std::size_t stream_mem = mem ? mem : (std::size_t(256) << 20);

    if (init.init == Init::given) {
      std::size_t kk = 0, dd = 0;
      init.centroids = with_file(init.file, [&] { return ds::read_centroids(init.file, "/centroids", &kk, &dd); });
      if (kk != k)
        fail(init.file, "has " + std::to_string(kk) + " centroids but -k is " + std::to_string(k));
      if (dd != d)
        fail(init.file, "centroids have " + std::to_string(dd) + " features but " + o.data + ":" +
                            o.dataset + " has " + std::to_string(d));
    }
    std::vector<float> weights;
    if (!o.weights.empty()) {
      weights = with_file(o.data, [&] { return ds::read_vector(o.data, o.weights); });
      if (weights.size() != n)
        fail("", o.data + ":" + o.weights + " has " + std::to_string(weights.size()) + " weights but " + o.dataset +
                         " has " + std::to_string(n) + " rows");
      for (std::size_t i = 0; i < n; ++i)
        if (!(weights[i] >= 0))
          fail(o.data + ":" + o.weights, "weight " + std::to_string(i) + " is negative");
    }

    KMeansParams p;
    p.k = k;
    p.algorithm = algo;
    p.init = init.init;
    p.init_centroids = init.centroids.empty() ? nullptr : init.centroids.data();
    p.max_iter = o.max_iter;
    p.tol = o.tol;
    p.n_init = o.n_init;
    p.seed = o.seed;
    p.weights = weights.empty() ? nullptr : weights.data();
    p.memory_limit = mem;
    p.batch_size = o.batch_size;
    p.max_epochs = o.max_epochs;
    p.max_steps = o.max_steps;
    p.max_no_improvement = o.max_no_improvement;
    p.refine = o.refine;
    p.coreset = o.coreset;
    p.progress = fit_progress(err, o.common, o.n_init, "fit");
    p.progress_inertia = !o.common.quiet;  // nothing prints it under --quiet

    ds::Transform t;
    KMeansResult r;
    if (!stream) {
      ds::Matrix m = with_file(o.data, [&] { return ds::read_matrix(o.data, o.dataset); });
      if (sc != ds::Transform::Scale::none || !log1p_cols.empty()) {
        MatrixSource raw(m.x.data(), n, d);
        t = with_file(o.data, [&] { return ds::fit_transform(raw, sc, log1p_cols, o.seed); });
        with_file(o.data, [&] { t.apply(m.x.data(), n, d); });
      }
      check_distinct_rows(o.data, m.x.data(), n, d, k);
      r = with_file(o.data, [&] { return fit(m.x.data(), n, d, p); });
    } else {
      if (sc != ds::Transform::Scale::none || !log1p_cols.empty()) {
        ds::H5RowSource raw(o.data, o.dataset, stream_mem);
        t = with_file(o.data, [&] { return ds::fit_transform(raw, sc, log1p_cols, o.seed); });
      }
      ds::H5RowSource src(o.data, o.dataset, stream_mem, t.empty() ? nullptr : &t);
      check_distinct_rows(o.data, src, k);
      r = with_file(o.data, [&] { return fit(src, p); });
    }

    // ---- the model ----
    ds::Model model;
    model.centroids = r.centroids;
    model.k = k;
    model.d = d;
    model.labels = r.labels;
    model.sizes = r.sizes;
    model.feature_names = names;
    model.transform = t;
    std::error_code ec;
    auto abs_src = std::filesystem::absolute(o.data, ec);
    nlohmann::json a = nlohmann::json::object();
    a["algorithm"] = algorithm_name(r.algorithm);
    a["algorithm_requested"] = algorithm_name(algo);
    a["init"] = init.init == Init::given ? "file" : init_name(init.init);
    if (init.init == Init::given) a["init_file"] = init.file;
    a["k"] = static_cast<std::int64_t>(k);
    a["seed"] = o.seed;
    a["best_seed"] = r.best_seed;
    a["n_init"] = o.n_init;
    a["max_iter"] = o.max_iter;
    a["tol"] = o.tol;
    a["iterations"] = r.iterations;
    a["inertia"] = r.inertia;
    a["converged"] = r.converged;
    a["n_samples"] = static_cast<std::int64_t>(n);
    a["n_features"] = static_cast<std::int64_t>(d);
    a["source_file"] = ec ? o.data : abs_src.string();
    a["source_dataset"] = o.dataset;
    a["scale"] = ds::scale_name(t.scale);
    a["streamed"] = stream;
    if (!o.weights.empty()) a["weights_dataset"] = o.weights;
    a["seconds"] = r.seconds;
    a["distance_evaluations"] = static_cast<std::int64_t>(r.distance_evaluations);
    a["lloyd_equivalent"] = static_cast<std::int64_t>(r.lloyd_equivalent);
    if (r.screen_evaluations) a["screen_evaluations"] = static_cast<std::int64_t>(r.screen_evaluations);
    a["isa"] = isa_in_use();
    a["threads"] = threads_in_use();
    a["personakit_version"] = PERSONAKIT_CLI_VERSION;
    model.attrs = a;
    with_file(o.output, [&] { ds::write_model(o.output, model); });

    // ---- report ----
    if (o.common.json) {
      nlohmann::ordered_json j;
      j["k"] = k;
      j["n_samples"] = n;
      j["n_features"] = d;
      j["algorithm"] = algorithm_name(r.algorithm);
      j["init"] = init_label(init);
      j["iterations"] = r.iterations;
      j["converged"] = r.converged;
      j["inertia"] = r.inertia;
      j["seconds"] = r.seconds;
      j["init_seconds"] = r.init_seconds;
      j["distance_evaluations"] = r.distance_evaluations;
      j["lloyd_equivalent"] = r.lloyd_equivalent;
      j["screen_evaluations"] = r.screen_evaluations;
      j["isa"] = isa_in_use();
      j["threads"] = threads_in_use();
      j["seed"] = o.seed;
      j["best_seed"] = r.best_seed;
      j["n_init"] = o.n_init;
      j["scale"] = ds::scale_name(t.scale);
      std::vector<std::string> lnames;
      for (int c : t.log1p_cols) lnames.push_back(names[static_cast<std::size_t>(c)]);
      j["log1p"] = lnames;
      j["streamed"] = stream;
      j["state_bytes"] = r.state_bytes;
      j["cluster_sizes"] = r.sizes;
      j["output"] = o.output;
      j["total_seconds"] = total.seconds();
      out << j.dump() << "\n";
    } else {
      out << "fit " << o.data << ":" << o.dataset << "  " << format_count(double(n)) << " rows x " << d
          << " features" << (stream ? " (streamed)" : "") << "\n";
      out << "  k " << k << "  algorithm " << algorithm_name(r.algorithm)
          << (algo == Algorithm::automatic ? " (auto)" : "") << "  init " << init_label(init) << "  seed "
          << o.seed;
      if (o.n_init > 1) out << "  n-init " << o.n_init << " (best seed " << r.best_seed << ")";
      out << "\n";
      if (!t.empty()) {
        out << "  preprocessing: scale " << ds::scale_name(t.scale);
        if (!t.log1p_cols.empty()) {
          out << ", log1p";
          for (int c : t.log1p_cols) out << " " << names[static_cast<std::size_t>(c)];
        }
        out << "\n";
      }
      out << "  iterations " << r.iterations << (r.converged ? " (converged)" : " (not converged)")
          << "  inertia " << std::setprecision(10) << r.inertia << std::defaultfloat << std::setprecision(6)
          << "  time " << format_seconds(r.seconds) << "\n";
      if (r.lloyd_equivalent) {
        out << "  distance evaluations " << format_count(double(r.distance_evaluations)) << " ("
            << std::fixed << std::setprecision(1)
            << 100.0 * double(r.distance_evaluations) / double(r.lloyd_equivalent) << "% of Lloyd's)"
            << std::defaultfloat << std::setprecision(6) << "\n";
        if (r.screen_evaluations)
          out << "  bf16 screen evaluations " << format_count(double(r.screen_evaluations))
              << " (not counted above: approximate, at twice the fp32 rate)\n";
      }
      out << "  cluster sizes:";
      for (auto s : r.sizes) out << " " << s;
      out << "\n  model written to " << o.output << "\n";
    }
    return kExitOk;
  });
}

}  // namespace personakit::cli
