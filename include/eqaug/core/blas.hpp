#pragma once
// Thin typed wrappers over CBLAS (OpenBLAS): row-major C = alpha op(A) op(B) + beta C.
#include <cstddef>

namespace eqaug::blas {

enum class Op { N, T };

template <typename T>
void gemm(Op opa, Op opb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda, const T* b,
          std::size_t ldb, T beta, T* c, std::size_t ldc);

/// Threads OpenBLAS may use inside one call: a process-wide setting, which eqaug changes only
/// through ThreadsGuard, so that a program embedding the library (or numpy beside it) finds
/// it as it was.
int num_threads();

/// Sets OpenBLAS's thread count for a scope and restores the previous one at its end (also
/// on an exception). eqaug parallelises over data chunks itself and holds BLAS at one
/// thread there, so results never depend on the thread count; a large model's chunks run
/// one at a time with the pool's threads inside the BLAS calls.
class ThreadsGuard {
 public:
  explicit ThreadsGuard(int n);
  ~ThreadsGuard();
  ThreadsGuard(const ThreadsGuard&) = delete;
  ThreadsGuard& operator=(const ThreadsGuard&) = delete;

 private:
  int previous_;
};

}  // namespace eqaug::blas
