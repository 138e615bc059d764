// Reading and preprocessing shared by the subcommands.
#include "prep.hpp"

#include <filesystem>

namespace personakit::cli {

ds::Transform::Scale scale_option(const std::string& s) {
  const std::string v = lower(s);
  if (v == "none") return ds::Transform::Scale::none;
  if (v == "standard") return ds::Transform::Scale::standard;
  if (v == "robust") return ds::Transform::Scale::robust;
  usage("--scale '" + s + "': expected none, standard or robust");
}

std::vector<int> log1p_option(const std::string& spec, const std::vector<std::string>& names) {
  if (spec.empty()) return {};
  try {
    return ds::parse_columns(spec, names);
  } catch (const personakit::Error& e) {
    usage(std::string("--log1p '") + spec + "': " + e.what());
  }
}

void require_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) usage("no input file given");
  if (!fs::exists(path, ec)) fail(path, "no such file");
  if (fs::is_directory(path, ec)) fail(path, "is a directory, not an HDF5 file");
}

bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

Prepared prepare_in_memory(const std::string& file, const std::string& dataset,
                           const std::string& scale, const std::string& log1p, std::uint64_t seed) {
  require_file(file);
  Prepared p;
  auto sc = scale_option(scale);
  p.info = with_file(file, [&] { return ds::probe(file, dataset); });
  // parse --log1p before the (possibly long) read, against the file's own names
  auto cols = log1p_option(log1p, p.info.feature_names);
  p.m = with_file(file, [&] { return ds::read_matrix(file, dataset); });
  p.names = p.m.feature_names;
  if (p.names.size() != p.m.d) {
    p.names.clear();
    for (std::size_t j = 0; j < p.m.d; ++j) p.names.push_back("f" + std::to_string(j));
  }
  if (sc != ds::Transform::Scale::none || !cols.empty()) {
    MatrixSource src(p.m.x.data(), p.m.n, p.m.d);
    p.t = with_file(file, [&] { return ds::fit_transform(src, sc, cols, seed); });
    with_file(file, [&] { p.t.apply(p.m.x.data(), p.m.n, p.m.d); });
  }
  return p;
}

void check_distinct_rows(const std::string& file, const float* x, std::size_t n, std::size_t d,
                         std::size_t k) {
  DistinctRows dr(d, k);
  dr.add(x, n);
  if (!dr.enough())
    fail(file, "k = " + std::to_string(k) + " but the data have only " + std::to_string(dr.count()) +
                   " distinct row" + (dr.count() == 1 ? "" : "s"));
}

namespace {
struct EnoughRows {};
}  // namespace

void check_distinct_rows(const std::string& file, RowSource& src, std::size_t k) {
  DistinctRows dr(src.cols(), k);
  try {
    src.for_each_block(1, [&](const float* x, std::size_t, std::size_t nrows) {
      dr.add(x, nrows);
      if (dr.enough()) throw EnoughRows{};
    });
  } catch (const EnoughRows&) {
    return;
  }
  if (!dr.enough())
    fail(file, "k = " + std::to_string(k) + " but the data have only " + std::to_string(dr.count()) +
                   " distinct row" + (dr.count() == 1 ? "" : "s"));
}

}  // namespace personakit::cli
