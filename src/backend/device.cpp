#include "eqaug/backend/device.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "eqaug/backend/cuda.hpp"
#include "eqaug/core/error.hpp"

namespace eqaug {

Device parse_device(const std::string& text) {
  Device d;
  if (text == "cpu") return d;
  if (text == "cuda") {
    d.kind = Device::Kind::Cuda;
    return d;
  }
  if (text.rfind("cuda:", 0) == 0) {
    const std::string n = text.substr(5);
    char* end = nullptr;
    const long v = n.empty() ? -1 : std::strtol(n.c_str(), &end, 10);
    if (!n.empty() && *end == '\0' && v >= 0 && v < 1024) {
      d.kind = Device::Kind::Cuda;
      d.index = static_cast<int>(v);
      return d;
    }
  }
  throw Error("--device: expected cpu, cuda or cuda:N (N = 0, 1, ...), got '" + text + "'");
}

bool cuda_built() {
#ifdef EQAUG_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

namespace {
/// The kernel driver's version ("580.159.04") from /proc/driver/nvidia/version, or "".
std::string nvidia_driver_version() {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  if (!std::getline(in, line)) return "";
  const auto at = line.find("Kernel Module");
  if (at == std::string::npos) return "";
  std::istringstream rest(line.substr(at + 13));
  std::string version;
  rest >> version;
  return version;
}
}  // namespace

nlohmann::json describe(const Device& d) {
  if (!d.cuda()) return {{"kind", "cpu"}};
  const cuda::DeviceInfo i = cuda::device_info(d.index);
  auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  return {
      {"kind", "cuda"},
      {"index", d.index},
      {"name", i.name},
      {"compute_capability", std::to_string(i.cc_major) + "." + std::to_string(i.cc_minor)},
      {"multiprocessors", i.multiprocessors},
      {"memory_bytes", i.memory_bytes},
      {"driver_cuda_version", version(i.driver_version)},
      {"cuda_runtime_version", version(i.runtime_version)},
      {"cublas_version", std::to_string(i.cublas_version / 10000) + "." + std::to_string(i.cublas_version / 100 % 100) +
                             "." + std::to_string(i.cublas_version % 100)},
      {"driver_version", nvidia_driver_version()},  // "" where /proc does not say
      {"tf32", d.tf32}};
}

}  // namespace eqaug
