// The _core extension: this file only assembles the areas, each registered in its own file.
#include <pybind11/pybind11.h>

#include "register.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastinit's C++17 core (private; use the fastinit package)";
#ifdef FASTINIT_VERSION
  m.attr("__version__") = FASTINIT_VERSION;
#endif
  fastinit::bindings::register_runtime(m);
  fastinit::bindings::register_fill(m);
  fastinit::bindings::register_orthogonal(m);
}
