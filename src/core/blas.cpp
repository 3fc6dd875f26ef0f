#include "eqaug/core/blas.hpp"

#include <cblas.h>

namespace eqaug::blas {

namespace {
CBLAS_TRANSPOSE to_cblas(Op op) { return op == Op::N ? CblasNoTrans : CblasTrans; }
}  // namespace

template <>
void gemm<float>(Op opa, Op opb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                 std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, to_cblas(opa), to_cblas(opb), static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

template <>
void gemm<double>(Op opa, Op opb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
                  std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
  cblas_dgemm(CblasRowMajor, to_cblas(opa), to_cblas(opb), static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

int num_threads() { return openblas_get_num_threads(); }

ThreadsGuard::ThreadsGuard(int n) : previous_(openblas_get_num_threads()) {
  if (n != previous_) openblas_set_num_threads(n);
}

ThreadsGuard::~ThreadsGuard() {
  if (openblas_get_num_threads() != previous_) openblas_set_num_threads(previous_);
}

}  // namespace eqaug::blas
