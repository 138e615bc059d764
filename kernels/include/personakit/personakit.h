/* personakit C API: k-means fit/predict, the assignment kernel and scores over
 * caller-owned buffers. Opaque handles; every call returns a pk_status; nothing
 * throws across this boundary; pk_last_error() holds the message of the last
 * failure on the calling thread. All matrices are row-major float32. */
#ifndef PERSONAKIT_H
#define PERSONAKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pk_status {
  PK_OK = 0,
  PK_ERROR_INVALID_ARGUMENT = 1, /* bad shapes, k out of range, NaN data, null pointers */
  PK_ERROR_OUT_OF_MEMORY = 2,
  PK_ERROR_INTERNAL = 3
} pk_status;

typedef enum pk_algorithm {
  PK_ALGO_AUTO = 0, PK_ALGO_LLOYD = 1, PK_ALGO_ELKAN = 2, PK_ALGO_HAMERLY = 3,
  PK_ALGO_YINYANG = 4, PK_ALGO_EXPONION = 5, PK_ALGO_MINIBATCH = 6,
  PK_ALGO_SCREENED = 7 /* Lloyd's result bit for bit, assignment screened in bf16 */
} pk_algorithm;

typedef enum pk_init { PK_INIT_RANDOM = 0, PK_INIT_KMEANSPP = 1, PK_INIT_KMEANS_PARALLEL = 2, PK_INIT_GIVEN = 3 } pk_init;

typedef struct pk_kmeans_params {
  size_t k;                     /* number of clusters, >= 1 */
  pk_algorithm algorithm;       /* default PK_ALGO_LLOYD */
  pk_init init;                 /* default PK_INIT_KMEANSPP */
  const float* init_centroids;  /* k×d, required with PK_INIT_GIVEN, else NULL */
  int max_iter;                 /* default 300 */
  double tol;                   /* default 1e-4 (scikit-learn's rule) */
  int n_init;                   /* default 1 */
  uint64_t seed;                /* default 0 */
  const float* weights;         /* n sample weights or NULL */
} pk_kmeans_params;

typedef struct pk_model pk_model; /* a fitted model: centroids, labels, statistics */

/* Fill p with the defaults above (k = 8). */
void pk_kmeans_params_init(pk_kmeans_params* p);

/* Fit x (n×d). On success *out owns a model to release with pk_model_destroy. */
pk_status pk_kmeans_fit(const float* x, size_t n, size_t d, const pk_kmeans_params* p, pk_model** out);
void pk_model_destroy(pk_model* m);

size_t pk_model_k(const pk_model* m);
size_t pk_model_d(const pk_model* m);
size_t pk_model_n(const pk_model* m);         /* rows of the training data */
double pk_model_inertia(const pk_model* m);
int pk_model_iterations(const pk_model* m);
int pk_model_converged(const pk_model* m);
uint64_t pk_model_distance_evaluations(const pk_model* m);
/* Copy out the k×d centroids / n training labels. */
pk_status pk_model_centroids(const pk_model* m, float* out);
pk_status pk_model_labels(const pk_model* m, int32_t* out);
/* Nearest centroid of each row of x (n×d, d == pk_model_d). dist may be NULL. */
pk_status pk_model_predict(const pk_model* m, const float* x, size_t n, size_t d, int32_t* labels, float* dist);

/* The fused assignment kernel: nearest of k centroids c (k×d) for each row of x (n×d). */
pk_status pk_assign_nearest(const float* x, size_t n, size_t d, const float* c, size_t k,
                            int32_t* labels, float* dist);

/* Scores (see docs/scoring.md). */
pk_status pk_silhouette(const float* x, size_t n, size_t d, const int32_t* labels, double* out);
pk_status pk_adjusted_rand(const int32_t* a, const int32_t* b, size_t n, double* out);

/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
const char* pk_last_error(void);
const char* pk_version(void);
/* The ISA the kernels run with: "scalar", "avx2" or "avx512". */
const char* pk_isa(void);

#ifdef __cplusplus
}
#endif
#endif /* PERSONAKIT_H */
