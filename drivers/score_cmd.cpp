// personakit score: internal and external quality scores of a segmentation.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>

#include "cli.hpp"
#include "common.hpp"
#include "personakit/score.hpp"
#include "personakit/source.hpp"
#include "prep.hpp"

namespace personakit::cli {

namespace {

const std::vector<std::string> kInternal = {"inertia", "silhouette", "silhouette_simplified", "davies_bouldin",
                                            "calinski_harabasz"};
const std::vector<std::string> kExternal = {"ari", "nmi", "ami", "homogeneity", "completeness", "v_measure"};

bool is_external(const std::string& m) {
  return std::find(kExternal.begin(), kExternal.end(), m) != kExternal.end();
}

std::vector<std::int32_t> read_truth(const std::string& file, bool is_data_file) {
  try {
    return ds::read_labels(file, "/truth");
  } catch (const personakit::Error& e) {
    if (is_data_file) {
      std::string msg = e.what();
      fail(file, "no /truth dataset to compare with (pass --truth FILE.h5)");
    }
    try {
      return ds::read_labels(file, "/labels");
    } catch (const personakit::Error&) {
      fail(file, "holds neither /truth nor /labels");
    }
  }
}

}  // namespace

int run_score(const ScoreOptions& o, std::ostream& out, std::ostream& err) {
  (void)err;
  return guarded(err, [&]() -> int {
    Stopwatch clock;
    const std::size_t mem = o.memory_limit.empty() ? 0 : parse_memory(o.memory_limit);
    if (o.labels.empty() && o.model.empty()) usage("score needs --labels FILE.h5 or --model MODEL.h5");
    if (!o.labels.empty() && !o.model.empty()) usage("give --labels or --model, not both");

    // ---- which metrics ----
    std::vector<std::string> metrics;
    bool explicit_metrics = !o.metrics.empty();
    if (explicit_metrics) {
      for (auto m : split_list(lower(o.metrics), ',')) {
        if (m == "all") {
          metrics.insert(metrics.end(), kInternal.begin(), kInternal.end());
          metrics.insert(metrics.end(), kExternal.begin(), kExternal.end());
          continue;
        }
        if (m == "internal") {
          metrics.insert(metrics.end(), kInternal.begin(), kInternal.end());
          continue;
        }
        if (m == "external") {
          metrics.insert(metrics.end(), kExternal.begin(), kExternal.end());
          continue;
        }
        if (m == "v-measure") m = "v_measure";
        if (std::find(kInternal.begin(), kInternal.end(), m) == kInternal.end() && !is_external(m))
          usage("--metrics: unknown metric '" + m +
                "' (known: inertia silhouette silhouette_simplified davies_bouldin calinski_harabasz ari nmi ami "
                "homogeneity completeness v_measure)");
        if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) metrics.push_back(m);
      }
    } else {
      metrics = kInternal;
      if (o.use_truth) metrics.insert(metrics.end(), kExternal.begin(), kExternal.end());
    }
    auto want = [&](const std::string& m) { return std::find(metrics.begin(), metrics.end(), m) != metrics.end(); };
    bool need_truth = std::any_of(metrics.begin(), metrics.end(), is_external);
    bool need_internal = std::any_of(metrics.begin(), metrics.end(), [](auto& m) { return !is_external(m); });

    require_file(o.data);
    // ---- labels (and centroids, transform) ----
    // Labels stay resident (4 bytes per row, counted against --memory-limit); the rows
    // are read in memory or streamed.
    std::optional<ds::Model> model;
    std::vector<std::int32_t> labels;
    std::string labels_src;
    if (!o.model.empty()) {
      require_file(o.model);
      model = with_file(o.model, [&] { return ds::read_model(o.model); });
      if (model->labels.empty())
        fail(o.model, "holds no training labels (a streamed fit?): run predict and score --labels");
      labels = std::move(model->labels);
      labels_src = o.model;
    } else {
      require_file(o.labels);
      labels = with_file(o.labels, [&] { return ds::read_labels(o.labels, "/labels"); });
      labels_src = o.labels;
    }

    const ds::DatasetInfo info = with_file(o.data, [&] { return ds::probe(o.data, o.dataset); });
    const std::size_t n = info.rows, d = info.cols;
    if (model && model->d != d)
      fail("", o.data + ":" + o.dataset + " has " + std::to_string(d) + " features but the model " + o.model +
                       " was fitted on " + std::to_string(model->d));
    if (labels.size() != n)
      fail(labels_src, "has " + std::to_string(labels.size()) + " labels but " + o.data + ":" + o.dataset + " has " +
                           std::to_string(n) + " rows");

    // ---- noise (label < 0), clusters ----
    std::size_t noise = 0;
    std::int32_t max_label = -1;
    std::size_t k = 0;  // distinct non-negative labels
    {
      // Labels below 2^20 ticked in a table (a k-means labelling: 0..k-1), others in a set.
      constexpr std::int32_t kTable = 1 << 20;
      std::vector<std::uint8_t> seen;
      std::set<std::int32_t> large;
      for (auto l : labels) {
        noise += l < 0;
        max_label = std::max(max_label, l);
        if (l < 0) continue;
        if (l < kTable) {
          if (static_cast<std::size_t>(l) >= seen.size()) seen.resize(static_cast<std::size_t>(l) + 1, 0);
          k += seen[static_cast<std::size_t>(l)] == 0;
          seen[static_cast<std::size_t>(l)] = 1;
        } else {
          k += large.insert(l).second;
        }
      }
    }
    if (noise && !o.skip_noise)
      fail(labels_src, std::to_string(noise) + " rows have negative (noise) labels; pass --skip-noise to exclude them");
    const std::size_t m = n - noise;
    if (m == 0) fail(labels_src, "every row is labelled as noise");
    if (model && max_label >= 0 && static_cast<std::size_t>(max_label) >= model->k)
      fail(o.model, "label " + std::to_string(max_label) + " has no centroid (k = " + std::to_string(model->k) + ")");

    // ---- how the rows are read ----
    const bool want_sil = want("silhouette");
    const bool want_acc = want("inertia") || want("davies_bouldin") || want("calinski_harabasz") ||
                          want("silhouette_simplified");
    const bool sampled = o.sample_size > 0 && o.sample_size < m;
    const double data_bytes = double(n) * double(d) * 4.0;
    const bool stream = need_internal && (o.stream || (mem > 0 && data_bytes > double(mem)));
    const std::size_t stream_mem = mem ? mem : (std::size_t(256) << 20);
    std::vector<std::string> notes;
    bool skip_exact_silhouette = false;
    if (stream && want_sil && !sampled) {
      if (explicit_metrics)
        usage("the exact silhouette needs the whole " + format_bytes(data_bytes) +
              " matrix in memory, but the rows are streamed (--stream or --memory-limit): pass --sample-size N "
              "or leave silhouette out of --metrics");
      skip_exact_silhouette = true;
      notes.push_back("silhouette: skipped: the exact score needs the whole matrix in memory and the rows are "
                      "streamed; pass --sample-size N for a sampled one");
    }

    // One accumulator gives inertia, Calinski–Harabasz, Davies–Bouldin and the
    // simplified silhouette in the same pass(es), resident or streamed: with a model,
    // about its centroids in one pass; else pass 1 finds the cluster means and pass 2
    // the distances to them (Davies–Bouldin, simplified silhouette).
    ScoreAccumulator acc(d, o.skip_noise);
    if (model) acc.set_centroids(model->centroids.data(), model->k);
    else acc.register_labels(labels.data(), n);
    if (want("silhouette_simplified")) acc.want_silhouette_simplified();
    const int passes = !want_acc ? 0 : (model || !(want("davies_bouldin") || want("silhouette_simplified"))) ? 1 : 2;
    const std::size_t align = acc.chunk_rows();
    ProgressPrinter progress(err, o.common);
    double pass_seconds = 0;  // the pass(es) alone: reading + scoring the rows
    double next_line = 0;
    auto run_passes = [&](RowSource& src) {
      Stopwatch pass_clock;
      for (int pass = 1; pass <= passes; ++pass) {
        if (pass == 2) acc.second_pass();
        src.for_each_block(align, [&](const float* xb, std::size_t row0, std::size_t nr) {
          progress.check_cancel();
          acc.add_block(xb, labels.data() + row0, nr);
          const double now = clock.seconds();
          if (now >= next_line) {  // at most one progress line a second
            next_line = now + 1.0;
            progress.line(now, "score: pass " + std::to_string(pass) + "/" + std::to_string(passes) + ", " +
                                   format_count(double(row0 + nr)) + " of " + format_count(double(n)) + " rows");
          }
        });
      }
      pass_seconds = pass_clock.seconds();
    };
    const ds::Transform* t = (model && !model->transform.empty()) ? &model->transform : nullptr;

    std::vector<float> x;          // resident rows (in memory), or the silhouette sample (streamed)
    std::size_t xrows = 0;         // rows in x
    std::vector<std::int32_t> xlabels;  // labels of the sample rows (streamed, sampled silhouette)
    std::size_t block_rows = 0;
    if (need_internal && !stream) {
      x = with_file(o.data, [&] { return ds::read_matrix(o.data, o.dataset, t); }).x;
      xrows = n;
      MatrixSource ms(x.data(), n, d);
      run_passes(ms);
    } else if (stream) {
      // Memory under --memory-limit: the labels (4 bytes/row), the accumulator's fixed
      // state (centroids, per-thread silhouette tiles), and per streamed row two fp32
      // buffers (H5RowSource), a slot id and the chunk partials.
      const std::size_t K = model ? model->k : std::max<std::size_t>(k, 1);
      const double threads = double(std::max(1, threads_in_use()));
      const double labels_bytes = 4.0 * double(n);
      const double fixed = double(K) * double(d) * 8.0 * 4.0 +
                           (want("silhouette_simplified") ? threads * double(align) * double(K) * 4.0 : 0.0) +
                           double(std::size_t(1) << 20);
      const double per_row = 8.0 * double(d) + 4.0 + 8.0 * double(K) * double(d + 6) / double(align);
      const double src_fixed = double(ds::H5RowSource::kOverheadBytes);
      const double needed = labels_bytes + fixed + src_fixed + per_row * double(align);
      if (double(stream_mem) < needed)
        fail(o.data, "--memory-limit " + (o.memory_limit.empty() ? format_bytes(double(stream_mem)) : o.memory_limit) +
                         " is too small to stream the scores: the labels take " + format_bytes(labels_bytes) +
                         " (4 bytes x " + format_count(double(n)) + " rows) and one block of " +
                         format_count(double(align)) + " rows " + format_bytes(src_fixed + per_row * double(align) + fixed) +
                         "; needs at least " + format_bytes(needed));
      const double rows_fit = std::floor((double(stream_mem) - labels_bytes - fixed - src_fixed) / per_row);
      const std::size_t src_limit =
          ds::H5RowSource::kOverheadBytes + static_cast<std::size_t>(rows_fit) * std::size_t(8) * d;
      if (want_acc || (want_sil && sampled)) {
        ds::H5RowSource src(o.data, o.dataset, src_limit, t);
        block_rows = src.block_rows() < n ? src.block_rows() / align * align : n;  // as for_each_block cuts them
        with_file(o.data, [&] { run_passes(src); });
        if (want_sil && sampled) {
          // The exact score of the same sample silhouette_sampled draws: noise rows
          // dropped first, then silhouette_sample_indices over the kept rows.
          const double sample_bytes = double(o.sample_size) * (12.0 * double(d) + 16.0 * double(k) + 48.0);
          if (labels_bytes + sample_bytes > double(stream_mem))
            fail(o.data, "--memory-limit " + o.memory_limit + " is too small for a silhouette sample of " +
                             std::to_string(o.sample_size) + " rows (about " + format_bytes(sample_bytes) +
                             " next to the labels' " + format_bytes(labels_bytes) + ")");
          std::vector<std::uint64_t> keep;
          if (noise) {
            keep.reserve(m);
            for (std::size_t i = 0; i < n; ++i)
              if (labels[i] >= 0) keep.push_back(i);
          }
          const std::vector<std::size_t> idx = silhouette_sample_indices(m, o.sample_size, o.seed);
          std::vector<std::uint64_t> rows(idx.size());
          xlabels.resize(idx.size());
          for (std::size_t q = 0; q < idx.size(); ++q) {
            rows[q] = noise ? keep[idx[q]] : idx[q];
            xlabels[q] = labels[rows[q]];
          }
          x.resize(rows.size() * d);
          with_file(o.data, [&] { src.read_rows(rows.data(), rows.size(), x.data()); });
          xrows = rows.size();
        }
      }
    }
    const StreamScores acc_scores = passes ? acc.finish() : StreamScores{};

    std::vector<std::int32_t> truth;
    std::string truth_src;
    if (need_truth) {
      truth_src = o.truth.empty() ? o.data : o.truth;
      require_file(truth_src);
      truth = with_file(truth_src, [&] { return read_truth(truth_src, truth_src == o.data || same_file(truth_src, o.data)); });
      if (truth.size() != n)
        fail(truth_src, "has " + std::to_string(truth.size()) + " true labels but the data have " + std::to_string(n) +
                            " rows");
    }

    // ---- noise rows out of the resident rows, labels and truth ----
    if (noise) {
      const bool compact_x = !stream && !x.empty() && want_sil && !skip_exact_silhouette;
      std::size_t w = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (labels[i] < 0) continue;
        if (compact_x) std::copy(x.begin() + std::ptrdiff_t(i * d), x.begin() + std::ptrdiff_t((i + 1) * d),
                                 x.begin() + std::ptrdiff_t(w * d));
        if (!truth.empty()) truth[w] = truth[i];
        labels[w++] = labels[i];
      }
      labels.resize(m);
      if (compact_x) { x.resize(m * d); xrows = m; }
      if (!truth.empty()) truth.resize(m);
    }

    // ---- the scores ----
    nlohmann::ordered_json scores = nlohmann::ordered_json::object();
    auto guard = [&](const std::string& name, auto&& fn) {
      try {
        double v = fn();
        scores[name] = std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
      } catch (const personakit::Error& e) {
        scores[name] = nullptr;
        notes.push_back(name + ": " + e.what());
      }
    };
    const std::string k_range = "number of clusters is " + std::to_string(k) + "; valid values are 2 to n-1 = " +
                                std::to_string(m - 1) + " (n rows scored)";
    auto from_acc = [&](const std::string& name, const std::optional<double>& v, const std::string& why) {
      if (v) scores[name] = std::isfinite(*v) ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
      else { scores[name] = nullptr; notes.push_back(name + ": " + why); }
    };
    for (const auto& name : metrics) {
      if (name == "inertia")
        scores[name] = acc_scores.inertia;
      else if (name == "silhouette") {
        if (skip_exact_silhouette) { scores[name] = nullptr; continue; }
        guard(name, [&] {
          if (stream) return silhouette(x.data(), xrows, d, xlabels.data()).mean;
          return sampled ? silhouette_sampled(x.data(), m, d, labels.data(), o.sample_size, o.seed)
                         : silhouette(x.data(), m, d, labels.data()).mean;
        });
      } else if (name == "silhouette_simplified")
        from_acc(name, acc_scores.silhouette_simplified, "needs at least 2 centroids");
      else if (name == "davies_bouldin")
        from_acc(name, acc_scores.davies_bouldin, k_range);
      else if (name == "calinski_harabasz")
        from_acc(name, acc_scores.calinski_harabasz, k_range);
      else if (name == "ari")
        guard(name, [&] { return adjusted_rand(truth.data(), labels.data(), m); });
      else if (name == "nmi")
        guard(name, [&] { return normalized_mutual_info(truth.data(), labels.data(), m); });
      else if (name == "ami")
        guard(name, [&] { return adjusted_mutual_info(truth.data(), labels.data(), m); });
    }
    if (want("homogeneity") || want("completeness") || want("v_measure")) {
      try {
        auto hc = homogeneity_completeness(truth.data(), labels.data(), m);
        if (want("homogeneity")) scores["homogeneity"] = hc.homogeneity;
        if (want("completeness")) scores["completeness"] = hc.completeness;
        if (want("v_measure")) scores["v_measure"] = hc.v_measure;
      } catch (const personakit::Error& e) {
        for (auto nm : {"homogeneity", "completeness", "v_measure"})
          if (want(nm)) scores[nm] = nullptr;
        notes.push_back(std::string("homogeneity/completeness: ") + e.what());
      }
    }
    // keep the requested order
    nlohmann::ordered_json ordered = nlohmann::ordered_json::object();
    for (const auto& name : metrics)
      if (scores.contains(name)) ordered[name] = scores[name];

    if (o.common.json) {
      nlohmann::ordered_json j;
      j["data"] = o.data;
      j["dataset"] = o.dataset;
      j["labels"] = labels_src;
      j["truth"] = need_truth ? nlohmann::ordered_json(truth_src) : nlohmann::ordered_json();
      j["n_samples"] = m;
      j["n_features"] = d;
      j["k"] = k;
      j["noise_rows"] = noise;
      j["silhouette_sample_size"] = sampled ? o.sample_size : 0;
      j["streamed"] = stream;
      j["passes"] = passes;
      if (stream) j["block_rows"] = block_rows;
      if (passes) j["pass_seconds"] = pass_seconds;
      for (auto it = ordered.begin(); it != ordered.end(); ++it) j[it.key()] = it.value();
      j["seconds"] = clock.seconds();
      if (!notes.empty()) j["notes"] = notes;
      out << j.dump() << "\n";
    } else {
      out << "score " << o.data << ":" << o.dataset << "  " << format_count(double(m)) << " rows x " << d
          << " features, " << k << " clusters from " << labels_src;
      if (noise) out << " (" << noise << " noise rows excluded)";
      out << "\n";
      if (need_truth) out << "  truth: " << truth_src << "\n";
      if (stream)
        out << "  rows streamed in " << passes << (passes == 1 ? " pass" : " passes") << ", blocks of "
            << format_count(double(block_rows)) << " rows\n";
      for (auto it = ordered.begin(); it != ordered.end(); ++it) {
        out << "  " << std::left << std::setw(22) << it.key() << std::right << " ";
        if (it.value().is_null()) out << "n/a";
        else out << std::setprecision(8) << it.value().get<double>();
        if (it.key() == "silhouette" && sampled) out << "  (sample of " << o.sample_size << " rows, seed " << o.seed << ")";
        out << "\n";
      }
      for (auto& nt : notes) out << "  note: " << nt << "\n";
      out << "  time " << format_seconds(clock.seconds()) << "\n";
    }
    return kExitOk;
  });
}

}  // namespace personakit::cli
