/* The C API, compiled as C: fit, predict, errors through pk_last_error. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "personakit/personakit.h"

static int failures = 0;
#define CHECK(cond, msg)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, msg); \
      ++failures;                                          \
    }                                                      \
  } while (0)

int main(void) {
  /* Two well-separated integer blobs: rows 0..49 near (0,0), rows 50..99 near (100,100).
     k-means with k = 2 must split them exactly, and centroids are the blob means. */
  enum { N = 100, D = 2 };
  float x[N * D];
  for (int i = 0; i < N; ++i) {
    const float base = i < 50 ? 0.0f : 100.0f;
    x[i * D + 0] = base + (float)(i % 5);
    x[i * D + 1] = base + (float)(i % 7);
  }
  pk_kmeans_params p;
  pk_kmeans_params_init(&p);
  p.k = 2;
  p.seed = 7;
  pk_model* m = NULL;
  CHECK(pk_kmeans_fit(x, N, D, &p, &m) == PK_OK, pk_last_error());
  if (m) {
    int32_t labels[N];
    CHECK(pk_model_labels(m, labels) == PK_OK, "labels");
    for (int i = 1; i < N; ++i) CHECK((labels[i] == labels[0]) == (i < 50), "blob split");
    float c[2 * D];
    CHECK(pk_model_centroids(m, c) == PK_OK, "centroids");
    /* Blob 0 means: (i % 5) over i = 0..49 averages 2; (i % 7) over 0..49 averages 147/50. */
    const int a = labels[0];
    CHECK(fabsf(c[a * D + 0] - 2.0f) < 1e-5f, "centroid x");
    CHECK(fabsf(c[a * D + 1] - 147.0f / 50.0f) < 1e-5f, "centroid y");
    int32_t pl[N];
    CHECK(pk_model_predict(m, x, N, D, pl, NULL) == PK_OK, "predict");
    CHECK(memcmp(pl, labels, sizeof pl) == 0, "predict reproduces the training labels");
    CHECK(pk_model_predict(m, x, N, 3, pl, NULL) == PK_ERROR_INVALID_ARGUMENT, "d mismatch refused");
    CHECK(strstr(pk_last_error(), "d = 3") != NULL, "d mismatch message");
    pk_model_destroy(m);
  }
  /* Errors: k = 0 and k > n come back as statuses with a message, never an abort. */
  p.k = 0;
  m = NULL;
  CHECK(pk_kmeans_fit(x, N, D, &p, &m) == PK_ERROR_INVALID_ARGUMENT && m == NULL, "k = 0 refused");
  CHECK(strlen(pk_last_error()) > 0, "k = 0 message");
  p.k = N + 1;
  CHECK(pk_kmeans_fit(x, N, D, &p, &m) == PK_ERROR_INVALID_ARGUMENT, "k > n refused");
  CHECK(pk_kmeans_fit(NULL, N, D, &p, &m) == PK_ERROR_INVALID_ARGUMENT, "NULL refused");
  double ari = 0;
  int32_t a[4] = {0, 0, 1, 1}, b[4] = {5, 5, 3, 3};
  CHECK(pk_adjusted_rand(a, b, 4, &ari) == PK_OK && fabs(ari - 1.0) < 1e-12, "ARI of relabelled partition is 1");
  CHECK(strlen(pk_version()) > 0 && strlen(pk_isa()) > 0, "version and isa");
  printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
