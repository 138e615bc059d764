// Internal HDF5 helpers: RAII handles, one-line errors, atomic temporary files,
// string and attribute I/O. Not installed.
#pragma once
#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "personakit/datasets/datasets.hpp"
#include "personakit/error.hpp"

namespace personakit::datasets::detail {

// Switches HDF5's automatic error printing off for the calling thread (the
// thread-safe build keeps one error stack per thread).
void quiet();
// The innermost message of this thread's HDF5 error stack ("" when empty); clears it.
std::string h5_detail();
// Error(msg + ": " + h5_detail()) or Error(msg) when the stack is empty.
[[noreturn]] void fail(const std::string& msg);

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer c) : id_(id), close_(c) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  // Closes now; returns false when HDF5 reported an error while closing (e.g. a
  // failed flush), so writers can refuse to rename a bad file.
  bool close() {
    bool ok = true;
    if (id_ >= 0 && close_) ok = close_(id_) >= 0;
    id_ = -1;
    return ok;
  }
  void reset() { (void)close(); }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// Checked constructors: msg is the error prefix used when id < 0.
Handle checked(hid_t id, Handle::Closer c, const std::string& msg);

// Opens file read-only with clear errors: no such file, unreadable, not HDF5,
// truncated/corrupt.
Handle open_file(const std::string& file);
// Opens a dataset with clear errors (missing: lists the datasets present).
Handle open_dataset(hid_t f, const std::string& file, const std::string& path);
bool link_exists(hid_t loc, const std::string& path);
std::vector<std::string> list_datasets(hid_t f, std::size_t max_names);

// "float32", "float64", "int32", "uint8", "string", "compound", ...
std::string dtype_name(hid_t type);
std::vector<hsize_t> dims_of(hid_t dset);

// Strings: variable- or fixed-length, 1-D dataset or attribute.
std::vector<std::string> read_string_dataset(hid_t dset);
std::vector<std::string> read_string_attr(hid_t attr);
void write_string_dataset(hid_t loc, const std::string& name, const std::vector<std::string>& v);

// 1-D numeric datasets (contiguous, no time stamps).
void write_1d(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, const void* data,
              std::size_t n);
// Row-chunked 2-D float32 dataset created empty (filled by hyperslab writes).
Handle create_matrix(hid_t loc, const std::string& name, std::size_t n, std::size_t d);
// rows [row0, row0+nrows) of a 2-D dataset (mem type float32 or given).
void write_rows(hid_t dset, std::size_t row0, std::size_t nrows, std::size_t d, hid_t mem_type,
                const void* data, const std::string& what);
void write_range_1d(hid_t dset, std::size_t off, std::size_t count, hid_t mem_type, const void* data,
                    const std::string& what);
std::size_t matrix_chunk_rows(std::size_t n, std::size_t d);

// Root attributes <-> JSON (strings, numbers, booleans as h5py-style enums,
// arrays of those; objects stored as their JSON text).
void write_attrs(hid_t loc, const nlohmann::json& attrs, const std::string& where);
nlohmann::json read_attrs(hid_t loc);

// An output written under PATH.tmp-XXXXXX and renamed over PATH by commit().
// The destructor removes the temporary unless committed.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  hid_t h5() const { return file_.get(); }
  const std::string& path() const { return path_; }
  // Closes the HDF5 file (checking the flush) and renames it into place.
  void commit();

 private:
  std::string path_, tmp_;
  Handle file_;
  bool done_ = false;
};

// Reads rows [row0, row0+nrows) of a 2-D float32/float64 dataset into out as fp32.
// float64 goes through `staging` (resized to at most 1 MiB) in sub-blocks.
// Throws Error "FILE:DSET: cannot read rows a..b: <hdf5 detail>".
void read_rows_f32(hid_t dset, bool is_f64, std::size_t row0, std::size_t nrows, std::size_t d, float* out,
                   std::vector<double>& staging, const std::string& where);

constexpr std::size_t kStagingBytes = std::size_t(1) << 20;
constexpr std::size_t kChunkCacheBytes = std::size_t(1) << 20;
constexpr std::size_t kDefaultCache = SIZE_MAX;  // open_matrix: HDF5's default chunk cache

// Opens and validates a 2-D float matrix dataset; fills info.
struct OpenMatrix {
  Handle file, dset;
  DatasetInfo info;
  bool is_f64 = false;
};
OpenMatrix open_matrix(const std::string& file, const std::string& dataset, std::size_t chunk_cache_bytes);

// v.resize(count) for a large buffer, first asking the kernel for transparent huge
// pages (madvise, THP "madvise" mode): the zero-fill then takes one fault per 2 MiB
// instead of one per 4 KiB, which in a VM costs more than the copy itself.
void resize_huge(std::vector<float>& v, std::size_t count);

// "first at row 17, column 4 (monetary)" helper.
std::string position(std::uint64_t row, std::size_t col, const std::vector<std::string>& names);

}  // namespace personakit::datasets::detail
