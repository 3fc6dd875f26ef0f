#pragma once
// Thin typed wrappers over CBLAS (OpenBLAS): row-major C = alpha op(A) op(B) + beta C.
#include <cstddef>

namespace eqaug::blas {

enum class Op { N, T };

template <typename T>
void gemm(Op opa, Op opb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda, const T* b,
          std::size_t ldb, T beta, T* c, std::size_t ldc);

/// Threads OpenBLAS may use inside one call. eqaug parallelises over data chunks
/// itself and keeps BLAS single-threaded, so results never depend on the thread count.
void set_num_threads(int n);
int num_threads();

}  // namespace eqaug::blas
