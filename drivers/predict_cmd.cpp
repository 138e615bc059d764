// personakit predict: nearest centroid of a model for every row, to a labels file.
#include <algorithm>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli.hpp"
#include "common.hpp"
#include "personakit/assign.hpp"
#include "prep.hpp"

namespace personakit::cli {

int run_predict(const PredictOptions& o, std::ostream& out, std::ostream& err) {
  return guarded(err, [&]() -> int {
    Stopwatch clock;
    const std::size_t mem = o.memory_limit.empty() ? 0 : parse_memory(o.memory_limit);
    check_output_path(o.output);
    require_file(o.model);
    require_file(o.data);
    if (same_file(o.data, o.output)) usage("-o " + o.output + ": would overwrite the input data");
    if (same_file(o.model, o.output)) usage("-o " + o.output + ": would overwrite the model");

    const ds::Model model = with_file(o.model, [&] { return ds::read_model(o.model); });
    if (model.k == 0 || model.d == 0 || model.centroids.size() != model.k * model.d)
      fail(o.model, "not a valid model (no /centroids)");
    // Default dataset: /features, or else the one the model was fitted on (e.g. /train).
    std::string dataset = o.dataset.empty() ? std::string("/features") : o.dataset;
    ds::DatasetInfo info;
    try {
      info = with_file(o.data, [&] { return ds::probe(o.data, dataset); });
    } catch (const personakit::Error& first) {
      const auto it = model.attrs.find("source_dataset");
      if (!o.dataset.empty() || it == model.attrs.end() || !it->is_string() || it->get<std::string>() == dataset)
        throw;
      try {
        info = ds::probe(o.data, it->get<std::string>());
        dataset = it->get<std::string>();
      } catch (const personakit::Error&) {
        throw first;  // the complaint about /features is the clearer one
      }
    }
    if (info.cols != model.d)
      fail("", o.data + ":" + dataset + " has " + std::to_string(info.cols) + " features but the model " + o.model +
                       " was fitted on " + std::to_string(model.d));
    if (!o.common.quiet && !model.feature_names.empty() && info.feature_names.size() == model.d &&
        info.feature_names != model.feature_names)
      err << "personakit: warning: " << o.data << ": feature names differ from the model's (same count, "
          << "assuming the same columns in the same order)\n";

    const std::size_t n = info.rows, d = info.cols, k = model.k;
    const ds::Transform* t = model.transform.empty() ? nullptr : &model.transform;
    PackedCentroids pc(model.centroids.data(), k, d);
    std::vector<std::int64_t> sizes(k, 0);
    double sum_dist = 0;
    const bool stream = o.stream || (mem > 0 && double(n) * double(d) * 4.0 > double(mem));
    ProgressPrinter progress(err, o.common);

    if (!stream) {
      ds::Matrix m = with_file(o.data, [&] { return ds::read_matrix(o.data, dataset, t); });
      std::vector<std::int32_t> labels(n);
      std::vector<float> dist(n);
      assign_nearest(m.x.data(), n, d, nullptr, pc, labels.data(), dist.data());
      for (std::size_t i = 0; i < n; ++i) {
        ++sizes[static_cast<std::size_t>(labels[i])];
        sum_dist += dist[i];
      }
      with_file(o.output, [&] { ds::write_labels(o.output, labels, dist); });
    } else {
      ds::H5RowSource src(o.data, dataset, mem ? mem : (std::size_t(256) << 20), t);
      ds::LabelWriter w(o.output, n, true);
      std::vector<std::int32_t> labels;
      std::vector<float> dist;
      src.for_each_block(1, [&](const float* x, std::size_t row0, std::size_t nrows) {
        progress.check_cancel();
        labels.resize(nrows);
        dist.resize(nrows);
        assign_nearest(x, nrows, d, nullptr, pc, labels.data(), dist.data());
        for (std::size_t i = 0; i < nrows; ++i) {
          ++sizes[static_cast<std::size_t>(labels[i])];
          sum_dist += dist[i];
        }
        w.write(row0, labels.data(), dist.data(), nrows);
        progress.line(clock.seconds(), "predict: " + format_count(double(row0 + nrows)) + " / " +
                                           format_count(double(n)) + " rows");
      });
      with_file(o.output, [&] { w.commit(); });
    }

    if (o.common.json) {
      nlohmann::ordered_json j;
      j["n_samples"] = n;
      j["n_features"] = d;
      j["k"] = k;
      j["model"] = o.model;
      j["inertia"] = sum_dist;
      j["mean_distance"] = n ? sum_dist / double(n) : 0.0;
      j["cluster_sizes"] = sizes;
      j["streamed"] = stream;
      j["seconds"] = clock.seconds();
      j["output"] = o.output;
      out << j.dump() << "\n";
    } else {
      out << "predict " << o.data << ":" << dataset << "  " << format_count(double(n)) << " rows x " << d
          << " features  with " << o.model << " (k " << k << ")\n";
      out << "  inertia " << std::setprecision(10) << sum_dist << std::setprecision(6)
          << "  mean squared distance " << (n ? sum_dist / double(n) : 0.0) << "  time "
          << format_seconds(clock.seconds()) << "\n";
      out << "  cluster sizes:";
      for (auto s : sizes) out << " " << s;
      out << "\n  labels written to " << o.output << "\n";
    }
    return kExitOk;
  });
}

}  // namespace personakit::cli
