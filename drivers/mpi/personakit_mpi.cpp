// personakit-mpi: exact Lloyd k-means over OpenMPI ranks, each rank reading its own
// contiguous slice of rows from the HDF5 file. Per iteration every rank runs the
// fused assignment kernel on its rows (OpenMP inside the rank), accumulates fp64
// per-centroid sums, and one MPI_Allreduce combines sums, counts, inertia and the
// number of changed labels. Every rank then applies the same update, so centroids
// stay identical across ranks without a broadcast.
//
// Differences from `personakit fit` (documented in docs/mpi.md): only Lloyd;
// empty clusters keep their previous centroid; fp64 sums are combined in rank
// order by MPI, so results agree with the single-process fit to rounding
// (relative ~1e-12 on the sums), not bit for bit.
#define OMPI_SKIP_MPICXX 1  // the C API only: no deprecated C++ bindings
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <hdf5.h>
#include <nlohmann/json.hpp>

#include "personakit/assign.hpp"
#include "personakit/datasets/datasets.hpp"
#include "personakit/error.hpp"
#include "personakit/isa.hpp"
#include "personakit/kmeans.hpp"

namespace {

using personakit::Error;

struct Options {
  std::string data, dataset = "/features", output, init = "kmeans++";
  std::size_t k = 8;
  int max_iter = 300;
  double tol = 1e-4;
  std::uint64_t seed = 0;
  std::size_t sample = 200000;
  int threads = 0;
  bool json = false, quiet = false;
};

// Rows [r0, r1) of a 2-D float32/float64 dataset, converted to fp32.
std::vector<float> read_slice(const std::string& file, const std::string& dataset, std::size_t r0,
                              std::size_t r1, std::size_t d) {
  std::vector<float> out((r1 - r0) * d);
  if (r1 == r0) return out;
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw Error(file + ": cannot open");
  hid_t ds = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
  hsize_t start[2] = {r0, 0}, count[2] = {r1 - r0, d};
  hid_t mem = H5Screate_simple(2, count, nullptr);
  herr_t rc = -1;
  if (space >= 0 && H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0)
    rc = H5Dread(ds, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, out.data());
  H5Sclose(mem);
  if (space >= 0) H5Sclose(space);
  if (ds >= 0) H5Dclose(ds);
  H5Fclose(f);
  if (rc < 0)
    throw Error(file + ":" + dataset + ": read error in rows " + std::to_string(r0) + ".." + std::to_string(r1));
  return out;
}

// splitmix64: the selection hash for the init sample, keyed by global row index.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int run(const Options& o, int rank, int size) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (o.threads > 0) omp_set_num_threads(o.threads);

  const auto info = personakit::datasets::probe(o.data, o.dataset);
  const std::size_t n = info.rows, d = info.cols, k = o.k;
  if (k < 1) throw Error("k = 0: must be at least 1");
  if (k > n) throw Error(o.data + ": k = " + std::to_string(k) + " exceeds the " + std::to_string(n) + " rows");
  const std::size_t r0 = n * rank / size, r1 = n * (rank + 1) / size, nl = r1 - r0;
  std::vector<float> x = read_slice(o.data, o.dataset, r0, r1, d);

  // Non-finite values anywhere: every rank learns the global count.
  std::uint64_t bad = 0;
  for (float v : x) bad += std::isfinite(v) ? 0 : 1;
  std::uint64_t bad_all = 0;
  MPI_Allreduce(&bad, &bad_all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  if (bad_all) throw Error(o.data + ":" + o.dataset + " has " + std::to_string(bad_all) + " non-finite values (NaN/Inf)");

  // Global per-feature variance for scikit-learn's tol rule (fp64 sums shifted by row 0).
  std::vector<double> mom(2 * d + 1, 0.0), mom_all(2 * d + 1);
  for (std::size_t i = 0; i < nl; ++i)
    for (std::size_t j = 0; j < d; ++j) { mom[j] += x[i * d + j]; mom[d + j] += double(x[i * d + j]) * x[i * d + j]; }
  MPI_Allreduce(mom.data(), mom_all.data(), int(2 * d), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double var_mean = 0;
  for (std::size_t j = 0; j < d; ++j) {
    const double m = mom_all[j] / double(n);
    var_mean += std::max(0.0, mom_all[d + j] / double(n) - m * m);
  }
  var_mean /= double(d);
  const double tol_abs = o.tol * var_mean;

  // Initial centroids: a file, or k-means++ on a seeded sample gathered to every rank.
  std::vector<float> c;
  std::string init_name = o.init;
  if (o.init == "kmeans++" || o.init == "random") {
    const double p = std::min(1.0, double(o.sample) / double(n));
    const std::uint64_t cut = p >= 1.0 ? UINT64_MAX : std::uint64_t(p * 18446744073709551615.0);
    std::vector<float> mine;
    for (std::size_t i = 0; i < nl; ++i)
      if (mix(o.seed ^ mix(r0 + i)) <= cut) mine.insert(mine.end(), x.begin() + i * d, x.begin() + (i + 1) * d);
    int cnt = int(mine.size());
    std::vector<int> counts(size), displs(size);
    MPI_Allgather(&cnt, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
    int total = 0;
    for (int r = 0; r < size; ++r) { displs[r] = total; total += counts[r]; }
    std::vector<float> sample(static_cast<std::size_t>(total));
    MPI_Allgatherv(mine.data(), cnt, MPI_FLOAT, sample.data(), counts.data(), displs.data(), MPI_FLOAT, MPI_COMM_WORLD);
    const std::size_t ns = std::size_t(total) / d;
    if (ns < k) throw Error(o.data + ": the init sample holds " + std::to_string(ns) + " rows, fewer than k; raise --sample");
    c = personakit::init_centroids(sample.data(), ns, d, k,
                                   o.init == "random" ? personakit::Init::random : personakit::Init::kmeanspp, o.seed);
  } else {
    std::size_t kk = 0, dd = 0;
    c = personakit::datasets::read_centroids(o.init, "/centroids", &kk, &dd);
    if (kk != k || dd != d)
      throw Error(o.init + ": /centroids is " + std::to_string(kk) + "x" + std::to_string(dd) + ", expected " +
                  std::to_string(k) + "x" + std::to_string(d));
    init_name = "file";
  }

  std::vector<std::int32_t> labels(nl, -1), prev(nl, -1);
  std::vector<float> dist(nl);
  std::vector<double> red(k * d + k + 2), red_all(k * d + k + 2);
  std::vector<std::int64_t> sizes(k);
  double inertia = 0;
  int it = 0;
  bool converged = false;
  personakit::PackedCentroids pc;
  while (it < o.max_iter) {
    ++it;
    pc.pack(c.data(), k, d);
    personakit::assign_nearest(x.data(), nl, d, nullptr, pc, labels.data(), dist.data());
    std::fill(red.begin(), red.end(), 0.0);
    personakit::accumulate_sums(x.data(), nl, d, labels.data(), nullptr, red.data(), red.data() + k * d);
    double local_inertia = 0, changed = 0;
    for (std::size_t i = 0; i < nl; ++i) { local_inertia += dist[i]; changed += labels[i] != prev[i]; }
    red[k * d + k] = local_inertia;
    red[k * d + k + 1] = changed;
    MPI_Allreduce(red.data(), red_all.data(), int(red.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    inertia = red_all[k * d + k];
    double shift = 0;
    for (std::size_t l = 0; l < k; ++l) {
      const double cnt = red_all[k * d + l];
      sizes[l] = std::int64_t(cnt);
      if (cnt <= 0) continue;  // empty cluster: keep the previous centroid
      for (std::size_t j = 0; j < d; ++j) {
        const float v = float(red_all[l * d + j] / cnt);
        shift += double(v - c[l * d + j]) * double(v - c[l * d + j]);
        c[l * d + j] = v;
      }
    }
    if (rank == 0 && !o.quiet && !o.json)
      std::fprintf(stderr, "iter %3d  inertia %.6e  shift %.3e  changed %.0f  %.2fs\n", it, inertia, shift,
                   red_all[k * d + k + 1], elapsed());
    if (red_all[k * d + k + 1] == 0 || shift <= tol_abs) { converged = true; break; }
    prev.swap(labels);
  }
  // Final inertia against the final centroids, as `personakit fit` reports it.
  pc.pack(c.data(), k, d);
  personakit::assign_nearest(x.data(), nl, d, nullptr, pc, labels.data(), dist.data());
  double local = 0;
  for (float v : dist) local += v;
  MPI_Allreduce(&local, &inertia, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  const double secs = elapsed();

  if (rank == 0) {
    if (!o.output.empty()) {
      personakit::datasets::Model m;
      m.centroids = c; m.k = k; m.d = d; m.sizes = sizes;
      m.feature_names = info.feature_names;
      m.attrs = {{"algorithm", "lloyd"}, {"init", init_name}, {"k", k}, {"seed", o.seed},
                 {"iterations", it}, {"inertia", inertia}, {"converged", converged},
                 {"source_file", o.data}, {"source_dataset", o.dataset}, {"mpi_ranks", size}};
      personakit::datasets::write_model(o.output, m);
    }
    if (o.json) {
      nlohmann::json j = {{"k", k}, {"n_samples", n}, {"n_features", d}, {"algorithm", "lloyd"},
                          {"init", init_name}, {"iterations", it}, {"converged", converged},
                          {"inertia", inertia}, {"seconds", secs}, {"ranks", size},
                          {"threads_per_rank", omp_get_max_threads()},
                          {"isa", personakit::isa_name(personakit::active_isa())},
                          {"cluster_sizes", sizes}, {"output", o.output}};
      std::cout << j.dump() << std::endl;
    } else {
      std::printf("personakit-mpi: k=%zu n=%zu d=%zu ranks=%d iterations=%d converged=%s inertia=%.9g seconds=%.3f\n",
                  k, n, d, size, it, converged ? "yes" : "no", inertia, secs);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  Options o;
  CLI::App app{"personakit-mpi: exact Lloyd k-means over MPI ranks (each rank reads its slice of rows).\n"
               "Example: mpirun -np 4 personakit-mpi fit customers.h5 -k 8 -o model.h5"};
  app.require_subcommand(1);
  auto* fit = app.add_subcommand("fit", "Fit k-means (Lloyd) on an HDF5 feature matrix");
  fit->add_option("data", o.data, "HDF5 file with the feature matrix")->required();
  fit->add_option("--dataset", o.dataset, "2-D dataset to read")->capture_default_str();
  fit->add_option("-k,--k", o.k, "number of clusters")->required();
  fit->add_option("-o,--output", o.output, "model file to write (rank 0, atomic)");
  fit->add_option("--init", o.init, "kmeans++, random, or a model/centroids HDF5 file")->capture_default_str();
  fit->add_option("--max-iter", o.max_iter, "maximum iterations")->capture_default_str();
  fit->add_option("--tol", o.tol, "relative centroid shift tolerance (scikit-learn's rule)")->capture_default_str();
  fit->add_option("--seed", o.seed, "seed of the init sample and k-means++")->capture_default_str();
  fit->add_option("--sample", o.sample, "rows gathered for k-means++ init")->capture_default_str();
  fit->add_option("--threads", o.threads, "OpenMP threads per rank (0: default)");
  fit->add_flag("--json", o.json, "print one JSON object on stdout (rank 0)");
  fit->add_flag("--quiet", o.quiet, "no per-iteration progress");
  int code = 0;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    code = rank == 0 ? app.exit(e) : (e.get_exit_code() == 0 ? 0 : 2);
    if (code != 0) code = 2;
    MPI_Finalize();
    return code;
  }
  // Every rank runs the same steps; an error on any rank stops all of them cleanly.
  std::string msg;
  try {
    code = run(o, rank, size);
  } catch (const std::exception& e) {
    msg = e.what();
    code = 1;
  }
  if (!msg.empty()) {
    std::fprintf(stderr, "personakit-mpi: error: %s (rank %d)\n", msg.c_str(), rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return code;
}
