// A build without CUDA (no toolkit found, or -DEQAUG_CUDA=OFF): the CUDA backend reports
// that it is missing, with how to get it, instead of failing to link.
#ifndef EQAUG_HAVE_CUDA
#include "eqaug/backend/cuda.hpp"
#include "eqaug/core/error.hpp"

namespace eqaug::cuda {

namespace {
[[noreturn]] void unavailable() {
  throw Error(
      "--device cuda: this eqaug was built without CUDA (no CUDA toolkit was found, or -DEQAUG_CUDA=OFF); "
      "rebuild with 'bash scripts/gpu.sh' on a machine with the CUDA toolkit");
}
}  // namespace

int device_count(std::string* why) {
  if (why) *why = "this eqaug was built without CUDA";
  return 0;
}
DeviceInfo device_info(int) { unavailable(); }

// Complete, so that the members' destructors compile when the constructor throws.
template <typename T>
struct DenseEngine<T>::Impl {};

template <typename T>
DenseEngine<T>::DenseEngine(const ModelDesc&, const T*, const T*, std::size_t, int, bool) {
  unavailable();
}
template <typename T>
DenseEngine<T>::~DenseEngine() = default;
template <typename T>
void DenseEngine<T>::set_copier(Copier) {
  unavailable();
}
template <typename T>
std::size_t DenseEngine<T>::chunk() const {
  unavailable();
}
template <typename T>
void DenseEngine<T>::run(const JobView*, std::size_t, std::size_t, double* const*, Stats*) {
  unavailable();
}
template <typename T>
double DenseEngine<T>::time_pass(const T*, int) {
  unavailable();
}
template <typename T>
double DenseEngine<T>::time_gemms(int) {
  unavailable();
}

template class DenseEngine<float>;
template class DenseEngine<double>;

}  // namespace eqaug::cuda
#endif
