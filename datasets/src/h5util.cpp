// Internal HDF5 helpers (see h5util.hpp).
#include "h5util.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace personakit::datasets::detail {

void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace {
herr_t walk_cb(unsigned n, const H5E_error2_t* e, void* data) {
  auto* s = static_cast<std::string*>(data);
  // Upward walk: entry 0 is where the error was first detected (the most specific).
  if (n == 0 && e->desc) *s = e->desc;
  return 0;
}
}  // namespace

std::string h5_detail() {
  std::string s;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &s);
  H5Eclear2(H5E_DEFAULT);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

void fail(const std::string& msg) {
  std::string d = h5_detail();
  throw Error(d.empty() ? msg : msg + ": " + d);
}

Handle checked(hid_t id, Handle::Closer c, const std::string& msg) {
  if (id < 0) fail(msg);
  return Handle(id, c);
}

Handle open_file(const std::string& file) {
  quiet();
  std::error_code ec;
  auto st = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(st)) throw Error(file + ": no such file");
  if (std::filesystem::is_directory(st)) throw Error(file + ": is a directory, not an HDF5 file");
  {
    std::ifstream probe(file, std::ios::binary);
    if (!probe) throw Error(file + ": cannot read (" + std::strerror(errno) + ")");
  }
  htri_t is = H5Fis_hdf5(file.c_str());
  H5Eclear2(H5E_DEFAULT);
  if (is <= 0) throw Error(file + ": not an HDF5 file");
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    std::string d = h5_detail();
    throw Error(file + ": cannot open as HDF5 (truncated or corrupt?)" + (d.empty() ? "" : ": " + d));
  }
  return Handle(f, H5Fclose);
}

bool link_exists(hid_t loc, const std::string& path) {
  // H5Lexists fails (rather than returning false) when an intermediate group is
  // missing, so check each component in turn.
  if (path.empty()) return false;
  std::size_t pos = (path[0] == '/') ? 1 : 0;
  std::string prefix = (path[0] == '/') ? "/" : "";
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string comp = path.substr(pos, next - pos);
    if (!comp.empty()) {
      prefix += comp;
      htri_t e = H5Lexists(loc, prefix.c_str(), H5P_DEFAULT);
      if (e <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
      prefix += "/";
    }
    pos = next + 1;
  }
  return true;
}

namespace {
struct VisitData {
  std::vector<std::string> names;
  std::size_t max;
  std::size_t total = 0;
};
herr_t visit_cb(hid_t, const char* name, const H5O_info_t* info, void* data) {
  auto* v = static_cast<VisitData*>(data);
  if (info->type == H5O_TYPE_DATASET) {
    ++v->total;
    if (v->names.size() < v->max) v->names.push_back(std::string("/") + name);
  }
  return 0;
}
}  // namespace

std::vector<std::string> list_datasets(hid_t f, std::size_t max_names) {
  VisitData v{{}, max_names};
  if (H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit_cb, &v, H5O_INFO_BASIC) < 0) H5Eclear2(H5E_DEFAULT);
  if (v.total > v.names.size()) v.names.push_back("... " + std::to_string(v.total - v.names.size()) + " more");
  return v.names;
}

Handle open_dataset(hid_t f, const std::string& file, const std::string& path) {
  if (!link_exists(f, path)) {
    auto names = list_datasets(f, 8);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw Error(file + ": no dataset " + path + (list.empty() ? " (the file has no datasets)" : " (datasets: " + list + ")"));
  }
  H5O_info_t oi;
  if (H5Oget_info_by_name2(f, path.c_str(), &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(file + ": " + path + " is not a dataset");
  }
  hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
  if (d < 0) fail(file + ": cannot open dataset " + path);
  return Handle(d, H5Dclose);
}

std::string dtype_name(hid_t type) {
  H5T_class_t c = H5Tget_class(type);
  std::size_t sz = H5Tget_size(type);
  switch (c) {
    case H5T_FLOAT: return "float" + std::to_string(sz * 8);
    case H5T_INTEGER: return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(sz * 8);
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "vlen";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_REFERENCE: return "reference";
    default: return "unknown";
  }
}

std::vector<hsize_t> dims_of(hid_t dset) {
  Handle sp(H5Dget_space(dset), H5Sclose);
  if (!sp) fail("cannot get dataspace");
  int r = H5Sget_simple_extent_ndims(sp.get());
  if (r < 0) fail("cannot get rank");
  std::vector<hsize_t> dims(static_cast<std::size_t>(r));
  if (r > 0) H5Sget_simple_extent_dims(sp.get(), dims.data(), nullptr);
  return dims;
}

namespace {
std::string trim_fixed(const char* p, std::size_t n, H5T_str_t pad) {
  std::size_t len = 0;
  while (len < n && p[len] != '\0') ++len;
  std::string s(p, len);
  if (pad == H5T_STR_SPACEPAD)
    while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

template <class ReadFn>
std::vector<std::string> read_strings(hid_t type, hid_t space, ReadFn read) {
  if (H5Tget_class(type) != H5T_STRING) throw Error("not a string dataset (dtype " + dtype_name(type) + ")");
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail("cannot size string array");
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(n));
  H5T_cset_t cset = H5Tget_cset(type);
  if (H5Tis_variable_str(type) > 0) {
    Handle mt(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt.get(), H5T_VARIABLE);
    H5Tset_cset(mt.get(), cset);
    std::vector<char*> buf(static_cast<std::size_t>(n), nullptr);
    if (n > 0) {
      if (read(mt.get(), buf.data()) < 0) fail("cannot read strings");
      for (char* p : buf) out.emplace_back(p ? p : "");
      H5Dvlen_reclaim(mt.get(), space, H5P_DEFAULT, buf.data());
    }
  } else {
    std::size_t sz = H5Tget_size(type);
    Handle mt(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt.get(), sz);
    H5Tset_cset(mt.get(), cset);
    H5T_str_t pad = H5Tget_strpad(type);
    H5Tset_strpad(mt.get(), pad);
    std::vector<char> buf(static_cast<std::size_t>(n) * sz + 1, '\0');
    if (n > 0) {
      if (read(mt.get(), buf.data()) < 0) fail("cannot read strings");
      for (hssize_t i = 0; i < n; ++i) out.push_back(trim_fixed(buf.data() + static_cast<std::size_t>(i) * sz, sz, pad));
    }
  }
  return out;
}

Handle vlen_utf8() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

Handle dcpl_no_times() {
  Handle p(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  // No modification times: the same data gives the same file bytes.
  H5Pset_obj_track_times(p.get(), false);
  return p;
}
}  // namespace

std::vector<std::string> read_string_dataset(hid_t dset) {
  Handle type(H5Dget_type(dset), H5Tclose);
  Handle space(H5Dget_space(dset), H5Sclose);
  return read_strings(type.get(), space.get(),
                      [&](hid_t mt, void* buf) { return H5Dread(dset, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); });
}

std::vector<std::string> read_string_attr(hid_t attr) {
  Handle type(H5Aget_type(attr), H5Tclose);
  Handle space(H5Aget_space(attr), H5Sclose);
  return read_strings(type.get(), space.get(), [&](hid_t mt, void* buf) { return H5Aread(attr, mt, buf); });
}

void write_string_dataset(hid_t loc, const std::string& name, const std::vector<std::string>& v) {
  Handle t = vlen_utf8();
  hsize_t n = v.size();
  Handle sp = checked(H5Screate_simple(1, &n, nullptr), H5Sclose, "cannot create dataspace for " + name);
  Handle p = dcpl_no_times();
  Handle d = checked(H5Dcreate2(loc, name.c_str(), t.get(), sp.get(), H5P_DEFAULT, p.get(), H5P_DEFAULT), H5Dclose,
                     "cannot create " + name);
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  if (n > 0 && H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0) fail("cannot write " + name);
}

void write_1d(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, const void* data, std::size_t n) {
  hsize_t dim = n;
  Handle sp = checked(H5Screate_simple(1, &dim, nullptr), H5Sclose, "cannot create dataspace for " + name);
  Handle p = dcpl_no_times();
  Handle d = checked(H5Dcreate2(loc, name.c_str(), file_type, sp.get(), H5P_DEFAULT, p.get(), H5P_DEFAULT), H5Dclose,
                     "cannot create " + name);
  if (n > 0 && data && H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) fail("cannot write " + name);
}

std::size_t matrix_chunk_rows(std::size_t n, std::size_t d) {
  // About 1 MiB per chunk: large enough for sequential bandwidth, small enough that
  // a sampled row read touches little data. Depends only on (n, d).
  std::size_t r = (std::size_t(1) << 20) / (4 * d);
  if (r < 1) r = 1;
  if (r > n) r = n;
  return r;
}

Handle create_matrix(hid_t loc, const std::string& name, std::size_t n, std::size_t d) {
  hsize_t dims[2] = {n, d};
  Handle sp = checked(H5Screate_simple(2, dims, nullptr), H5Sclose, "cannot create dataspace for " + name);
  Handle p = dcpl_no_times();
  if (n > 0 && d > 0) {
    hsize_t chunk[2] = {matrix_chunk_rows(n, d), d};
    if (H5Pset_chunk(p.get(), 2, chunk) < 0) fail("cannot set chunking for " + name);
  }
  return checked(H5Dcreate2(loc, name.c_str(), H5T_IEEE_F32LE, sp.get(), H5P_DEFAULT, p.get(), H5P_DEFAULT), H5Dclose,
                 "cannot create " + name);
}

void write_rows(hid_t dset, std::size_t row0, std::size_t nrows, std::size_t d, hid_t mem_type, const void* data,
                const std::string& what) {
  if (nrows == 0) return;
  Handle fs = checked(H5Dget_space(dset), H5Sclose, what);
  hsize_t start[2] = {row0, 0}, count[2] = {nrows, d};
  if (H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0) fail(what);
  Handle ms = checked(H5Screate_simple(2, count, nullptr), H5Sclose, what);
  if (H5Dwrite(dset, mem_type, ms.get(), fs.get(), H5P_DEFAULT, data) < 0) fail(what);
}

void write_range_1d(hid_t dset, std::size_t off, std::size_t count, hid_t mem_type, const void* data,
                    const std::string& what) {
  if (count == 0) return;
  Handle fs = checked(H5Dget_space(dset), H5Sclose, what);
  hsize_t start = off, cnt = count;
  if (H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &start, nullptr, &cnt, nullptr) < 0) fail(what);
  Handle ms = checked(H5Screate_simple(1, &cnt, nullptr), H5Sclose, what);
  if (H5Dwrite(dset, mem_type, ms.get(), fs.get(), H5P_DEFAULT, data) < 0) fail(what);
}

// ---------------------------------------------------------------- attributes

namespace {
Handle bool_enum() {
  // h5py's boolean: an int8 enum {FALSE = 0, TRUE = 1}.
  Handle t(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
  std::int8_t f = 0, tr = 1;
  H5Tenum_insert(t.get(), "FALSE", &f);
  H5Tenum_insert(t.get(), "TRUE", &tr);
  return t;
}

void put_attr(hid_t loc, const std::string& where, const std::string& key, hid_t type, const std::vector<hsize_t>& dims, const void* data) {
  if (H5Aexists(loc, key.c_str()) > 0) H5Adelete(loc, key.c_str());
  Handle sp = dims.empty() ? Handle(H5Screate(H5S_SCALAR), H5Sclose)
                           : Handle(H5Screate_simple(1, dims.data(), nullptr), H5Sclose);
  Handle a = checked(H5Acreate2(loc, key.c_str(), type, sp.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                     where + ": cannot create attribute '" + key + "'");
  if (H5Awrite(a.get(), type, data) < 0) fail(where + ": cannot write attribute '" + key + "'");
}

void put_string_attr(hid_t loc, const std::string& where, const std::string& key, const std::string& v) {
  Handle t = vlen_utf8();
  const char* p = v.c_str();
  put_attr(loc, where, key, t.get(), {}, &p);
}
}  // namespace

void write_attrs(hid_t loc, const nlohmann::json& attrs, const std::string& where) {
  if (!attrs.is_object()) throw Error(where + ": attributes must be a JSON object");
  for (auto it = attrs.begin(); it != attrs.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (v.is_null()) continue;
    if (v.is_string()) {
      put_string_attr(loc, where, key, v.get<std::string>());
    } else if (v.is_boolean()) {
      Handle t = bool_enum();
      std::int8_t b = v.get<bool>() ? 1 : 0;
      put_attr(loc, where, key, t.get(), {}, &b);
    } else if (v.is_number_unsigned()) {
      std::uint64_t x = v.get<std::uint64_t>();
      put_attr(loc, where, key, H5T_NATIVE_UINT64, {}, &x);
    } else if (v.is_number_integer()) {
      std::int64_t x = v.get<std::int64_t>();
      put_attr(loc, where, key, H5T_NATIVE_INT64, {}, &x);
    } else if (v.is_number_float()) {
      double x = v.get<double>();
      put_attr(loc, where, key, H5T_NATIVE_DOUBLE, {}, &x);
    } else if (v.is_array() && !v.empty()) {
      bool all_str = true, all_int = true, all_num = true;
      for (const auto& e : v) {
        all_str = all_str && e.is_string();
        all_int = all_int && e.is_number_integer();
        all_num = all_num && e.is_number();
      }
      std::vector<hsize_t> dims{v.size()};
      if (all_str) {
        Handle t = vlen_utf8();
        std::vector<std::string> s;
        for (const auto& e : v) s.push_back(e.get<std::string>());
        std::vector<const char*> p;
        for (const auto& e : s) p.push_back(e.c_str());
        put_attr(loc, where, key, t.get(), dims, p.data());
      } else if (all_int) {
        std::vector<std::int64_t> x;
        for (const auto& e : v) x.push_back(e.get<std::int64_t>());
        put_attr(loc, where, key, H5T_NATIVE_INT64, dims, x.data());
      } else if (all_num) {
        std::vector<double> x;
        for (const auto& e : v) x.push_back(e.get<double>());
        put_attr(loc, where, key, H5T_NATIVE_DOUBLE, dims, x.data());
      } else {
        put_string_attr(loc, where, key, v.dump());
      }
    } else {
      put_string_attr(loc, where, key, v.dump());  // objects, empty arrays: their JSON text
    }
  }
}

namespace {
herr_t attr_cb(hid_t loc, const char* name, const H5A_info_t*, void* data) {
  auto& out = *static_cast<nlohmann::json*>(data);
  Handle a(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  if (!a) return 0;
  Handle t(H5Aget_type(a.get()), H5Tclose);
  Handle sp(H5Aget_space(a.get()), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(sp.get());
  bool scalar = H5Sget_simple_extent_type(sp.get()) == H5S_SCALAR;
  if (n < 0) return 0;
  std::size_t un = static_cast<std::size_t>(n);
  nlohmann::json arr = nlohmann::json::array();
  switch (H5Tget_class(t.get())) {
    case H5T_STRING: {
      auto s = read_string_attr(a.get());
      for (auto& e : s) arr.push_back(e);
      break;
    }
    case H5T_INTEGER: {
      if (H5Tget_sign(t.get()) == H5T_SGN_NONE) {
        std::vector<std::uint64_t> x(un);
        if (un) H5Aread(a.get(), H5T_NATIVE_UINT64, x.data());
        for (auto e : x) arr.push_back(e);
      } else {
        std::vector<std::int64_t> x(un);
        if (un) H5Aread(a.get(), H5T_NATIVE_INT64, x.data());
        for (auto e : x) arr.push_back(e);
      }
      break;
    }
    case H5T_FLOAT: {
      std::vector<double> x(un);
      if (un) H5Aread(a.get(), H5T_NATIVE_DOUBLE, x.data());
      for (auto e : x) arr.push_back(e);
      break;
    }
    case H5T_ENUM: {
      // Booleans as h5py writes them; other enums as their integer values.
      std::vector<std::int64_t> x(un);
      Handle base(H5Tget_super(t.get()), H5Tclose);
      bool is_bool = H5Tget_nmembers(t.get()) == 2 && H5Tget_size(t.get()) == 1;
      std::vector<std::int8_t> b(un);
      if (un) H5Aread(a.get(), H5T_NATIVE_INT8, b.data());  // enum -> int8 base conversion
      H5Eclear2(H5E_DEFAULT);
      for (auto e : b) {
        if (is_bool) arr.push_back(e != 0);
        else arr.push_back(static_cast<std::int64_t>(e));
      }
      break;
    }
    default: return 0;  // unsupported types are skipped
  }
  H5Eclear2(H5E_DEFAULT);
  out[name] = (scalar && arr.size() == 1) ? arr[0] : arr;
  return 0;
}
}  // namespace

nlohmann::json read_attrs(hid_t loc) {
  nlohmann::json out = nlohmann::json::object();
  hsize_t idx = 0;
  H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_cb, &out);
  H5Eclear2(H5E_DEFAULT);
  return out;
}

// ---------------------------------------------------------------- atomic files

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  quiet();
  if (path.empty()) throw Error("output path is empty");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory; cannot write the output there");
  std::string tmpl = path + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  int fd = ::mkstemp(buf.data());
  if (fd < 0) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
  ::close(fd);
  tmp_ = buf.data();
  hid_t f = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    std::string d = h5_detail();
    ::unlink(tmp_.c_str());
    throw Error(path + ": cannot create HDF5 file" + (d.empty() ? "" : ": " + d));
  }
  file_ = Handle(f, H5Fclose);
}

AtomicFile::~AtomicFile() {
  if (!done_) {
    file_.reset();
    H5Eclear2(H5E_DEFAULT);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::commit() {
  if (H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0) fail(path_ + ": cannot flush");
  if (!file_.close()) fail(path_ + ": cannot close");
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw Error(path_ + ": cannot rename the temporary file into place (" + std::strerror(errno) + ")");
  done_ = true;
}

// ---------------------------------------------------------------- matrices

void read_rows_f32(hid_t dset, bool is_f64, std::size_t row0, std::size_t nrows, std::size_t d, float* out,
                   std::vector<double>& staging, const std::string& where) {
  if (nrows == 0) return;
  auto read = [&](std::size_t r0, std::size_t nr, hid_t mt, void* buf) {
    Handle fs(H5Dget_space(dset), H5Sclose);
    hsize_t start[2] = {r0, 0}, count[2] = {nr, d};
    bool ok = fs && H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0;
    Handle ms(ok ? H5Screate_simple(2, count, nullptr) : -1, H5Sclose);
    ok = ok && ms && H5Dread(dset, mt, ms.get(), fs.get(), H5P_DEFAULT, buf) >= 0;
    if (!ok)
      fail(where + ": cannot read rows " + std::to_string(r0) + ".." + std::to_string(r0 + nr - 1) +
           " (truncated or corrupt file?)");
  };
  if (!is_f64) {
    read(row0, nrows, H5T_NATIVE_FLOAT, out);
    return;
  }
  std::size_t sub = kStagingBytes / (8 * d);
  if (sub < 1) sub = 1;
  if (sub > nrows) sub = nrows;
  if (staging.size() < sub * d) staging.resize(sub * d);
  for (std::size_t r = 0; r < nrows; r += sub) {
    std::size_t nr = std::min(sub, nrows - r);
    read(row0 + r, nr, H5T_NATIVE_DOUBLE, staging.data());
    float* o = out + r * d;
    // A finite double beyond float's range becomes +-Inf here and is then reported
    // as non-finite by the caller's check.
    for (std::size_t i = 0; i < nr * d; ++i) o[i] = static_cast<float>(staging[i]);
  }
}

OpenMatrix open_matrix(const std::string& file, const std::string& dataset, std::size_t chunk_cache_bytes) {
  OpenMatrix m;
  m.file = open_file(file);
  if (chunk_cache_bytes != kDefaultCache) {
    if (!link_exists(m.file.get(), dataset)) m.dset = open_dataset(m.file.get(), file, dataset);  // throws
    Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
    H5Pset_chunk_cache(dapl.get(), 521, chunk_cache_bytes, 1.0);
    H5O_info_t oi;
    if (H5Oget_info_by_name2(m.file.get(), dataset.c_str(), &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_DATASET) {
      H5Eclear2(H5E_DEFAULT);
      throw Error(file + ": " + dataset + " is not a dataset");
    }
    hid_t d = H5Dopen2(m.file.get(), dataset.c_str(), dapl.get());
    if (d < 0) fail(file + ": cannot open dataset " + dataset);
    m.dset = Handle(d, H5Dclose);
  } else {
    m.dset = open_dataset(m.file.get(), file, dataset);
  }
  DatasetInfo& info = m.info;
  info.file = file;
  info.dataset = dataset;
  Handle type(H5Dget_type(m.dset.get()), H5Tclose);
  auto dims = dims_of(m.dset.get());
  if (dims.size() != 2)
    throw Error(file + ":" + dataset + " has rank " + std::to_string(dims.size()) +
                "; expected a 2-D matrix (rows x features)");
  std::string dt = dtype_name(type.get());
  if (dt != "float32" && dt != "float64")
    throw Error(file + ":" + dataset + " has dtype " + dt + "; expected float32 or float64");
  m.is_f64 = dt == "float64";
  info.dtype = dt;
  info.rows = dims[0];
  info.cols = dims[1];
  if (info.rows == 0) throw Error(file + ":" + dataset + " has 0 rows");
  if (info.cols == 0) throw Error(file + ":" + dataset + " has 0 columns");
  {
    Handle dcpl(H5Dget_create_plist(m.dset.get()), H5Pclose);
    if (dcpl && H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
      hsize_t cd[2] = {0, 0};
      if (H5Pget_chunk(dcpl.get(), 2, cd) == 2) info.chunk_rows = cd[0];
    }
    H5Eclear2(H5E_DEFAULT);
  }
  hid_t f = m.file.get();
  if (link_exists(f, "/feature_names")) {
    try {
      Handle fn(H5Dopen2(f, "/feature_names", H5P_DEFAULT), H5Dclose);
      if (fn) {
        auto names = read_string_dataset(fn.get());
        if (names.size() == info.cols) info.feature_names = std::move(names);
      }
    } catch (const Error&) {
      // A malformed /feature_names is ignored: names are a convenience.
    }
    H5Eclear2(H5E_DEFAULT);
  }
  auto one_d_len = [&](const char* p) -> std::size_t {
    if (!link_exists(f, p)) return SIZE_MAX;
    Handle d(H5Dopen2(f, p, H5P_DEFAULT), H5Dclose);
    if (!d) {
      H5Eclear2(H5E_DEFAULT);
      return SIZE_MAX;
    }
    auto dd = dims_of(d.get());
    return dd.size() == 1 ? dd[0] : SIZE_MAX;
  };
  info.has_truth = one_d_len("/truth") == info.rows;
  info.has_ids = one_d_len("/customer_ids") == info.rows;
  return m;
}

void resize_huge(std::vector<float>& v, std::size_t count) {
  constexpr std::size_t kHuge = std::size_t(2) << 20;
  if (count * sizeof(float) >= 4 * kHuge && v.capacity() < count) {
    v.clear();
    v.shrink_to_fit();
    v.reserve(count);  // allocated (mmap) but not yet touched
#ifdef MADV_HUGEPAGE
    auto b = reinterpret_cast<std::uintptr_t>(v.data());
    std::uintptr_t lo = (b + kHuge - 1) & ~(kHuge - 1);
    std::uintptr_t hi = (b + count * sizeof(float)) & ~(kHuge - 1);
    if (hi > lo) (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // a hint only
#endif
  }
  v.resize(count);
}

std::string position(std::uint64_t row, std::size_t col, const std::vector<std::string>& names) {
  std::string s = "row " + std::to_string(row) + ", column " + std::to_string(col);
  if (col < names.size()) s += " (" + names[col] + ")";
  return s;
}

}  // namespace personakit::datasets::detail
