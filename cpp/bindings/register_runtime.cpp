// Threads and SIMD level.
#include <string>

#include "fastinit/simd.hpp"
#include "fastinit/thread_pool.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace fastinit {
namespace bindings {

void register_runtime(py::module_& m) {
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("simd_level", [] { return std::string(simd_level_name(active_simd_level())); });
  m.def("detected_simd_level",
        [] { return std::string(simd_level_name(detected_simd_level())); });
  m.def("set_simd_level",
        [](const std::string& name) { set_simd_level(simd_level_from_name(name)); },
        py::arg("level"));
}

}  // namespace bindings
}  // namespace fastinit
