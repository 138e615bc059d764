// personakit generate: synthetic customers or blobs, written in row chunks.
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "cli.hpp"
#include "common.hpp"
#include "prep.hpp"

namespace personakit::cli {

int run_generate(const GenerateOptions& o, std::ostream& out, std::ostream& err) {
  return guarded(err, [&]() -> int {
    if (o.rows < 1) usage("--rows must be at least 1");
    if (o.features < 1) usage("--features must be at least 1");
    if (o.segments < 1) usage("--segments must be at least 1");
    if (o.segments > o.rows) usage("--segments " + std::to_string(o.segments) + " exceeds --rows " +
                                   std::to_string(o.rows));
    if (o.kind != "customers" && o.kind != "blobs") usage("--kind '" + o.kind + "': expected customers or blobs");
    if (!(o.separation >= 0)) usage("--separation must be >= 0");
    check_output_path(o.output);

    ds::GeneratorParams p;
    p.kind = o.kind;
    p.rows = o.rows;
    p.features = o.features;
    p.segments = o.segments;
    p.seed = o.seed;
    p.separation = o.separation;

    Stopwatch clock;
    ProgressPrinter progress(err, o.common);
    double last = -1;
    auto cb = [&](std::uint64_t done) {
      progress.check_cancel();  // the generator removes its temporary file on the exception
      double s = clock.seconds();
      if (!progress.enabled(s) || (s - last < 0.5 && done < o.rows)) return;
      last = s;
      std::ostringstream line;
      line << "generate: " << format_count(double(done)) << " / " << format_count(double(o.rows)) << " rows ("
           << std::fixed << std::setprecision(1) << 100.0 * double(done) / double(o.rows) << "%)  "
           << std::setprecision(2) << double(done) / std::max(s, 1e-9) / 1e6 << " M rows/s  elapsed "
           << std::setprecision(1) << s << " s";
      progress.line(s, line.str());
    };
    with_file(o.output, [&] { ds::generate(p, o.output, cb); });
    const double secs = clock.seconds();
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(o.output, ec);

    if (o.common.json) {
      nlohmann::ordered_json j;
      j["output"] = o.output;
      j["kind"] = o.kind;
      j["rows"] = o.rows;
      j["features"] = o.features;
      j["segments"] = o.segments;
      j["seed"] = o.seed;
      if (o.kind == "blobs") j["separation"] = o.separation;
      j["bytes"] = ec ? 0 : static_cast<std::uint64_t>(bytes);
      j["seconds"] = secs;
      j["rows_per_second"] = double(o.rows) / std::max(secs, 1e-9);
      out << j.dump() << "\n";
    } else {
      out << "generated " << format_count(double(o.rows)) << " " << o.kind << " rows x " << o.features
          << " features, " << o.segments << (o.kind == "blobs" ? " blobs" : " personas") << ", seed " << o.seed
          << "\n  " << o.output << "  " << (ec ? std::string("?") : format_bytes(double(bytes))) << "  in "
          << format_seconds(secs) << " (" << std::fixed << std::setprecision(2)
          << double(o.rows) / std::max(secs, 1e-9) / 1e6 << " M rows/s)" << std::defaultfloat << "\n";
    }
    return kExitOk;
  });
}

}  // namespace personakit::cli
