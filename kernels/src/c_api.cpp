// The C API: a thin shell over the C++ one. Nothing throws across the boundary.
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "personakit/assign.hpp"
#include "personakit/error.hpp"
#include "personakit/isa.hpp"
#include "personakit/kmeans.hpp"
#include "personakit/personakit.h"
#include "personakit/score.hpp"

#ifndef PERSONAKIT_VERSION_STRING
#define PERSONAKIT_VERSION_STRING "0.1.0"
#endif

struct pk_model {
  personakit::KMeansResult r;
  std::size_t n = 0, d = 0, k = 0;
  personakit::PackedCentroids packed;
};

namespace {
thread_local std::string g_last_error;

template <class F>
pk_status guarded(F&& f) {
  try {
    g_last_error.clear();
    f();
    return PK_OK;
  } catch (const personakit::Error& e) {
    g_last_error = e.what();
    return PK_ERROR_INVALID_ARGUMENT;
  } catch (const std::bad_alloc&) {
    g_last_error = "out of memory";
    return PK_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return PK_ERROR_INTERNAL;
  } catch (...) {
    g_last_error = "unknown internal error";
    return PK_ERROR_INTERNAL;
  }
}

void need(bool ok, const char* what) {
  if (!ok) throw personakit::Error(what);
}

personakit::Algorithm to_algo(pk_algorithm a) {
  using personakit::Algorithm;
  switch (a) {
    case PK_ALGO_AUTO: return Algorithm::automatic;
    case PK_ALGO_LLOYD: return Algorithm::lloyd;
    case PK_ALGO_ELKAN: return Algorithm::elkan;
    case PK_ALGO_HAMERLY: return Algorithm::hamerly;
    case PK_ALGO_YINYANG: return Algorithm::yinyang;
    case PK_ALGO_EXPONION: return Algorithm::exponion;
    case PK_ALGO_MINIBATCH: return Algorithm::minibatch;
    case PK_ALGO_SCREENED: return Algorithm::screened;
  }
  throw personakit::Error("unknown algorithm code " + std::to_string(static_cast<int>(a)));
}

personakit::Init to_init(pk_init i) {
  using personakit::Init;
  switch (i) {
    case PK_INIT_RANDOM: return Init::random;
    case PK_INIT_KMEANSPP: return Init::kmeanspp;
    case PK_INIT_KMEANS_PARALLEL: return Init::kmeans_parallel;
    case PK_INIT_GIVEN: return Init::given;
  }
  throw personakit::Error("unknown init code " + std::to_string(static_cast<int>(i)));
}
}  // namespace

extern "C" {

void pk_kmeans_params_init(pk_kmeans_params* p) {
  if (!p) return;
  const personakit::KMeansParams def;
  p->k = def.k;
  p->algorithm = PK_ALGO_LLOYD;
  p->init = PK_INIT_KMEANSPP;
  p->init_centroids = nullptr;
  p->max_iter = def.max_iter;
  p->tol = def.tol;
  p->n_init = def.n_init;
  p->seed = def.seed;
  p->weights = nullptr;
}

pk_status pk_kmeans_fit(const float* x, size_t n, size_t d, const pk_kmeans_params* p, pk_model** out) {
  return guarded([&] {
    need(x && p && out, "pk_kmeans_fit: x, params and out must not be NULL");
    *out = nullptr;
    personakit::KMeansParams kp;
    kp.k = p->k;
    kp.algorithm = to_algo(p->algorithm);
    kp.init = to_init(p->init);
    kp.init_centroids = p->init_centroids;
    kp.max_iter = p->max_iter;
    kp.tol = p->tol;
    kp.n_init = p->n_init;
    kp.seed = p->seed;
    kp.weights = p->weights;
    auto m = std::make_unique<pk_model>();
    m->r = personakit::fit(x, n, d, kp);
    m->n = n; m->d = d; m->k = p->k;
    m->packed.pack(m->r.centroids.data(), m->k, d);
    *out = m.release();
  });
}

void pk_model_destroy(pk_model* m) { delete m; }
size_t pk_model_k(const pk_model* m) { return m ? m->k : 0; }
size_t pk_model_d(const pk_model* m) { return m ? m->d : 0; }
size_t pk_model_n(const pk_model* m) { return m ? m->n : 0; }
double pk_model_inertia(const pk_model* m) { return m ? m->r.inertia : 0.0; }
int pk_model_iterations(const pk_model* m) { return m ? m->r.iterations : 0; }
int pk_model_converged(const pk_model* m) { return m ? (m->r.converged ? 1 : 0) : 0; }
uint64_t pk_model_distance_evaluations(const pk_model* m) { return m ? m->r.distance_evaluations : 0; }

pk_status pk_model_centroids(const pk_model* m, float* out) {
  return guarded([&] {
    need(m && out, "pk_model_centroids: model and out must not be NULL");
    std::memcpy(out, m->r.centroids.data(), m->r.centroids.size() * sizeof(float));
  });
}

pk_status pk_model_labels(const pk_model* m, int32_t* out) {
  return guarded([&] {
    need(m && out, "pk_model_labels: model and out must not be NULL");
    need(m->r.labels.size() == m->n, "pk_model_labels: this model kept no training labels");
    std::memcpy(out, m->r.labels.data(), m->r.labels.size() * sizeof(int32_t));
  });
}

pk_status pk_model_predict(const pk_model* m, const float* x, size_t n, size_t d, int32_t* labels, float* dist) {
  return guarded([&] {
    need(m && x && labels, "pk_model_predict: model, x and labels must not be NULL");
    if (d != m->d)
      throw personakit::Error("pk_model_predict: data has d = " + std::to_string(d) + " but the model has d = " +
                              std::to_string(m->d));
    personakit::assign_nearest(x, n, d, nullptr, m->packed, labels, dist);
  });
}

pk_status pk_assign_nearest(const float* x, size_t n, size_t d, const float* c, size_t k, int32_t* labels, float* dist) {
  return guarded([&] {
    need(x && c && labels, "pk_assign_nearest: x, c and labels must not be NULL");
    personakit::PackedCentroids pc(c, k, d);
    personakit::assign_nearest(x, n, d, nullptr, pc, labels, dist);
  });
}

pk_status pk_silhouette(const float* x, size_t n, size_t d, const int32_t* labels, double* out) {
  return guarded([&] {
    need(x && labels && out, "pk_silhouette: x, labels and out must not be NULL");
    *out = personakit::silhouette(x, n, d, labels).mean;
  });
}

pk_status pk_adjusted_rand(const int32_t* a, const int32_t* b, size_t n, double* out) {
  return guarded([&] {
    need(a && b && out, "pk_adjusted_rand: a, b and out must not be NULL");
    *out = personakit::adjusted_rand(a, b, n);
  });
}

const char* pk_last_error(void) { return g_last_error.c_str(); }
const char* pk_version(void) { return PERSONAKIT_VERSION_STRING; }
const char* pk_isa(void) { return personakit::isa_name(personakit::active_isa()); }

}  // extern "C"
