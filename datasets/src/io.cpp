// Reading and writing customer matrices, models and labels (layout: docs/format.md).
#include <cmath>
#include <limits>

#include "h5util.hpp"

namespace personakit::datasets {

using detail::Handle;

namespace {
std::vector<std::string> default_names(std::size_t d) {
  std::vector<std::string> v;
  for (std::size_t j = 0; j < d; ++j) {
    v.emplace_back("f");  // two steps: GCC 12 warns falsely (-Wrestrict) on "f" + std::string
    v.back().append(std::to_string(j));
  }
  return v;
}

// Reads a 1-D dataset of n elements with the given memory type.
template <class T>
std::vector<T> read_1d(hid_t f, const std::string& file, const std::string& path, hid_t mem_type,
                       bool want_int) {
  Handle d = detail::open_dataset(f, file, path);
  auto dims = detail::dims_of(d.get());
  Handle type(H5Dget_type(d.get()), H5Tclose);
  H5T_class_t c = H5Tget_class(type.get());
  if (dims.size() != 1)
    throw Error(file + ":" + path + " has rank " + std::to_string(dims.size()) + "; expected a 1-D dataset");
  if (want_int ? c != H5T_INTEGER : (c != H5T_INTEGER && c != H5T_FLOAT))
    throw Error(file + ":" + path + " has dtype " + detail::dtype_name(type.get()) + "; expected " +
                (want_int ? "integers" : "numbers"));
  std::vector<T> v(dims[0]);
  if (!v.empty() && H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    detail::fail(file + ":" + path + ": cannot read (values out of range, truncated or corrupt file?)");
  return v;
}
}  // namespace

DatasetInfo probe(const std::string& file, const std::string& dataset) {
  return detail::open_matrix(file, dataset, detail::kDefaultCache).info;
}

std::vector<std::string> read_feature_names(const std::string& file) {
  Handle f = detail::open_file(file);
  if (!detail::link_exists(f.get(), "/feature_names")) return {};
  Handle d = detail::open_dataset(f.get(), file, "/feature_names");
  try {
    return detail::read_string_dataset(d.get());
  } catch (const Error& e) {
    throw Error(file + ":/feature_names: " + e.what());
  }
}

Matrix read_matrix(const std::string& file, const std::string& dataset, const Transform* t) {
  auto om = detail::open_matrix(file, dataset, detail::kDefaultCache);
  const auto& info = om.info;
  const std::size_t n = info.rows, d = info.cols;
  const std::string where = file + ":" + dataset;
  Matrix m;
  m.n = n;
  m.d = d;
  m.feature_names = info.feature_names.empty() ? default_names(d) : info.feature_names;
  if (n > std::numeric_limits<std::size_t>::max() / d) throw Error(where + " is too large to index");
  detail::resize_huge(m.x, n * d);
  // Blocks of about 64 MiB of output; float64 is converted through a 1 MiB staging
  // buffer inside read_rows_f32, so the matrix is never held twice.
  std::size_t block = std::max<std::size_t>(1, (std::size_t(64) << 20) / (4 * d));
  std::vector<double> staging;
  std::uint64_t bad = 0;
  std::size_t first_row = 0, first_col = 0;
  for (std::size_t r = 0; r < n; r += block) {
    std::size_t nr = std::min(block, n - r);
    float* out = m.x.data() + r * d;
    detail::read_rows_f32(om.dset.get(), om.is_f64, r, nr, d, out, staging, where);
    for (std::size_t i = 0; i < nr * d; ++i) {
      if (!std::isfinite(out[i])) {
        if (bad == 0) {
          first_row = r + i / d;
          first_col = i % d;
        }
        ++bad;
      }
    }
  }
  if (bad > 0)
    throw Error(where + " has " + std::to_string(bad) + " non-finite value" + (bad == 1 ? "" : "s") +
                " (NaN/Inf); first at " + detail::position(first_row, first_col, m.feature_names));
  if (t && !t->empty()) {
    try {
      t->apply(m.x.data(), n, d, 0);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
  if (info.has_ids) m.ids = read_1d<std::int64_t>(om.file.get(), file, "/customer_ids", H5T_NATIVE_INT64, true);
  if (info.has_truth) m.truth = read_1d<std::int32_t>(om.file.get(), file, "/truth", H5T_NATIVE_INT32, true);
  return m;
}

std::vector<std::int32_t> read_labels(const std::string& file, const std::string& dataset) {
  Handle f = detail::open_file(file);
  return read_1d<std::int32_t>(f.get(), file, dataset, H5T_NATIVE_INT32, true);
}

std::vector<float> read_vector(const std::string& file, const std::string& dataset) {
  Handle f = detail::open_file(file);
  auto v = read_1d<float>(f.get(), file, dataset, H5T_NATIVE_FLOAT, false);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw Error(file + ":" + dataset + " has a non-finite value (NaN/Inf) at index " + std::to_string(i));
  return v;
}

std::vector<float> read_centroids(const std::string& file, const std::string& dataset, std::size_t* k,
                                  std::size_t* d) {
  Matrix m = read_matrix(file, dataset, nullptr);
  if (k) *k = m.n;
  if (d) *d = m.d;
  return std::move(m.x);
}

// ---------------------------------------------------------------- writers

void write_matrix(const std::string& path, const float* x, std::size_t n, std::size_t d,
                  const std::vector<std::string>& names, const std::vector<std::int64_t>& ids,
                  const std::vector<std::int32_t>& truth) {
  if (n == 0 || d == 0) throw Error(path + ": cannot write a matrix with " + std::to_string(n) + " rows and " +
                                    std::to_string(d) + " columns");
  if (!names.empty() && names.size() != d)
    throw Error(path + ": " + std::to_string(names.size()) + " feature names for " + std::to_string(d) + " columns");
  if (!ids.empty() && ids.size() != n)
    throw Error(path + ": " + std::to_string(ids.size()) + " customer ids for " + std::to_string(n) + " rows");
  if (!truth.empty() && truth.size() != n)
    throw Error(path + ": " + std::to_string(truth.size()) + " truth labels for " + std::to_string(n) + " rows");
  detail::AtomicFile out(path);
  {
    Handle ds = detail::create_matrix(out.h5(), "/features", n, d);
    // Written one chunk-row band at a time (whole HDF5 chunks).
    std::size_t band = detail::matrix_chunk_rows(n, d) * 16;
    for (std::size_t r = 0; r < n; r += band) {
      std::size_t nr = std::min(band, n - r);
      detail::write_rows(ds.get(), r, nr, d, H5T_NATIVE_FLOAT, x + r * d, path + ": cannot write /features");
    }
  }
  if (!names.empty()) detail::write_string_dataset(out.h5(), "/feature_names", names);
  if (!ids.empty()) detail::write_1d(out.h5(), "/customer_ids", H5T_STD_I64LE, H5T_NATIVE_INT64, ids.data(), n);
  if (!truth.empty()) detail::write_1d(out.h5(), "/truth", H5T_STD_I32LE, H5T_NATIVE_INT32, truth.data(), n);
  out.commit();
}

void write_model(const std::string& path, const Model& m) {
  if (m.k == 0 || m.d == 0) throw Error(path + ": model has k = " + std::to_string(m.k) + ", d = " + std::to_string(m.d));
  if (m.centroids.size() != m.k * m.d)
    throw Error(path + ": model has " + std::to_string(m.centroids.size()) + " centroid values; expected k*d = " +
                std::to_string(m.k * m.d));
  if (!m.sizes.empty() && m.sizes.size() != m.k)
    throw Error(path + ": model has " + std::to_string(m.sizes.size()) + " cluster sizes for k = " + std::to_string(m.k));
  if (!m.feature_names.empty() && m.feature_names.size() != m.d)
    throw Error(path + ": model has " + std::to_string(m.feature_names.size()) + " feature names for d = " +
                std::to_string(m.d));
  const Transform& t = m.transform;
  if (t.scale != Transform::Scale::none && (t.center.size() != m.d || t.scale_by.size() != m.d))
    throw Error(path + ": model transform has " + std::to_string(t.center.size()) + " centers for d = " +
                std::to_string(m.d));
  detail::AtomicFile out(path);
  hid_t f = out.h5();
  {
    hsize_t dims[2] = {m.k, m.d};
    Handle sp = detail::checked(H5Screate_simple(2, dims, nullptr), H5Sclose, path + ": dataspace");
    Handle p(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_obj_track_times(p.get(), false);
    Handle ds = detail::checked(H5Dcreate2(f, "/centroids", H5T_IEEE_F32LE, sp.get(), H5P_DEFAULT, p.get(), H5P_DEFAULT),
                                H5Dclose, path + ": cannot create /centroids");
    if (H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.centroids.data()) < 0)
      detail::fail(path + ": cannot write /centroids");
  }
  if (!m.sizes.empty()) detail::write_1d(f, "/cluster_sizes", H5T_STD_I64LE, H5T_NATIVE_INT64, m.sizes.data(), m.k);
  if (!m.labels.empty())
    detail::write_1d(f, "/labels", H5T_STD_I32LE, H5T_NATIVE_INT32, m.labels.data(), m.labels.size());
  if (!m.feature_names.empty()) detail::write_string_dataset(f, "/feature_names", m.feature_names);
  {
    Handle g = detail::checked(H5Gcreate2(f, "/transform", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                               path + ": cannot create /transform");
    detail::write_attrs(g.get(), nlohmann::json{{"scale", scale_name(t.scale)}}, path);
    if (!t.log1p_cols.empty()) {
      std::vector<std::int32_t> c(t.log1p_cols.begin(), t.log1p_cols.end());
      detail::write_1d(g.get(), "log1p_cols", H5T_STD_I32LE, H5T_NATIVE_INT32, c.data(), c.size());
    }
    if (t.scale != Transform::Scale::none) {
      detail::write_1d(g.get(), "center", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, t.center.data(), m.d);
      detail::write_1d(g.get(), "scale_by", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, t.scale_by.data(), m.d);
    }
  }
  nlohmann::json attrs = m.attrs.is_object() ? m.attrs : nlohmann::json::object();
  if (!attrs.contains("personakit_version")) attrs["personakit_version"] = PERSONAKIT_VERSION_STRING;
  if (!attrs.contains("k")) attrs["k"] = static_cast<std::int64_t>(m.k);
  if (!m.feature_names.empty() && !attrs.contains("feature_names")) attrs["feature_names"] = m.feature_names;
  detail::write_attrs(f, attrs, path);
  out.commit();
}

Model read_model(const std::string& path) {
  Model m;
  m.centroids = read_centroids(path, "/centroids", &m.k, &m.d);
  Handle f = detail::open_file(path);
  hid_t h = f.get();
  if (detail::link_exists(h, "/cluster_sizes")) {
    Handle d = detail::open_dataset(h, path, "/cluster_sizes");
    auto dims = detail::dims_of(d.get());
    if (dims.size() != 1 || dims[0] != m.k)
      throw Error(path + ":/cluster_sizes does not have k = " + std::to_string(m.k) + " entries");
    m.sizes.resize(m.k);
    if (H5Dread(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.sizes.data()) < 0)
      detail::fail(path + ": cannot read /cluster_sizes");
  }
  if (detail::link_exists(h, "/labels")) m.labels = read_labels(path, "/labels");
  if (detail::link_exists(h, "/feature_names")) {
    Handle d = detail::open_dataset(h, path, "/feature_names");
    auto names = detail::read_string_dataset(d.get());
    if (names.size() == m.d) m.feature_names = std::move(names);
  }
  if (detail::link_exists(h, "/transform")) {
    Handle g(H5Gopen2(h, "/transform", H5P_DEFAULT), H5Gclose);
    if (!g) detail::fail(path + ": /transform is not a group");
    auto ta = detail::read_attrs(g.get());
    Transform& t = m.transform;
    std::string s = ta.contains("scale") && ta["scale"].is_string() ? ta["scale"].get<std::string>() : "none";
    try {
      t.scale = parse_scale(s);
    } catch (const Error& e) {
      throw Error(path + ":/transform: " + e.what());
    }
    auto read_f64 = [&](const char* name) {
      Handle d = detail::open_dataset(g.get(), path, name);
      auto dims = detail::dims_of(d.get());
      if (dims.size() != 1 || dims[0] != m.d)
        throw Error(path + ":/transform/" + name + " does not have d = " + std::to_string(m.d) + " entries");
      std::vector<double> v(m.d);
      if (H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
        detail::fail(path + ": cannot read /transform/" + name);
      return v;
    };
    if (detail::link_exists(g.get(), "log1p_cols")) {
      auto c = read_1d<std::int32_t>(g.get(), path, "log1p_cols", H5T_NATIVE_INT32, true);
      for (auto j : c) {
        if (j < 0 || static_cast<std::size_t>(j) >= m.d)
          throw Error(path + ":/transform/log1p_cols has column " + std::to_string(j) + " outside 0.." +
                      std::to_string(m.d - 1));
        t.log1p_cols.push_back(j);
      }
    }
    if (t.scale != Transform::Scale::none) {
      t.center = read_f64("center");
      t.scale_by = read_f64("scale_by");
      for (double v : t.scale_by)
        if (!(v > 0) || !std::isfinite(v)) throw Error(path + ":/transform/scale_by has a non-positive or non-finite value");
    }
  }
  m.attrs = detail::read_attrs(h);
  return m;
}

void write_labels(const std::string& path, const std::vector<std::int32_t>& labels, const std::vector<float>& distances) {
  if (!distances.empty() && distances.size() != labels.size())
    throw Error(path + ": " + std::to_string(distances.size()) + " distances for " + std::to_string(labels.size()) +
                " labels");
  detail::AtomicFile out(path);
  detail::write_1d(out.h5(), "/labels", H5T_STD_I32LE, H5T_NATIVE_INT32, labels.data(), labels.size());
  if (!distances.empty())
    detail::write_1d(out.h5(), "/distances", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, distances.data(), distances.size());
  out.commit();
}

// ---------------------------------------------------------------- LabelWriter

struct LabelWriter::Impl {
  std::unique_ptr<detail::AtomicFile> out;
  Handle labels, distances;
  std::size_t n = 0;
  nlohmann::json attrs = nlohmann::json::object();
};

LabelWriter::LabelWriter(const std::string& path, std::size_t n, bool with_distances) : impl_(new Impl) {
  impl_->n = n;
  impl_->out = std::make_unique<detail::AtomicFile>(path);
  hid_t f = impl_->out->h5();
  detail::write_1d(f, "/labels", H5T_STD_I32LE, H5T_NATIVE_INT32, nullptr, n);
  impl_->labels = detail::checked(H5Dopen2(f, "/labels", H5P_DEFAULT), H5Dclose, path + ": /labels");
  if (with_distances) {
    detail::write_1d(f, "/distances", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr, n);
    impl_->distances = detail::checked(H5Dopen2(f, "/distances", H5P_DEFAULT), H5Dclose, path + ": /distances");
  }
}

LabelWriter::~LabelWriter() = default;  // an uncommitted AtomicFile removes its temporary

void LabelWriter::write(std::size_t row0, const std::int32_t* labels, const float* distances, std::size_t count) {
  detail::quiet();
  const std::string& path = impl_->out->path();
  if (row0 + count > impl_->n)
    throw Error(path + ": rows " + std::to_string(row0) + ".." + std::to_string(row0 + count - 1) + " beyond n = " +
                std::to_string(impl_->n));
  detail::write_range_1d(impl_->labels.get(), row0, count, H5T_NATIVE_INT32, labels, path + ": cannot write /labels");
  if (impl_->distances && distances)
    detail::write_range_1d(impl_->distances.get(), row0, count, H5T_NATIVE_FLOAT, distances,
                           path + ": cannot write /distances");
}

void LabelWriter::set_attrs(const nlohmann::json& attrs) { impl_->attrs = attrs; }

void LabelWriter::commit() {
  detail::quiet();
  impl_->labels.reset();
  impl_->distances.reset();
  if (!impl_->attrs.empty()) detail::write_attrs(impl_->out->h5(), impl_->attrs, impl_->out->path());
  impl_->out->commit();
}

}  // namespace personakit::datasets
