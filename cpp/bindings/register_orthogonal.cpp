// orthogonal_from_gaussian on a Fortran-ordered float32/float64 array, in place.
#include <pybind11/numpy.h>

#include <cstdint>
#include <stdexcept>

#include "fastinit/orthogonal.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace fastinit {
namespace bindings {
namespace {

void orthogonal_array(const py::handle& obj) {
  if (!py::isinstance<py::array>(obj)) throw py::type_error("expected a numpy.ndarray");
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  if (arr.ndim() != 2 || !(arr.flags() & py::array::f_style) || !arr.writeable()) {
    throw std::invalid_argument("expected a writable, Fortran-ordered 2-D array");
  }
  const std::int64_t m = arr.shape(0), n = arr.shape(1);
  if (arr.dtype().is(py::dtype::of<float>())) {
    auto* p = static_cast<float*>(arr.mutable_data());
    py::gil_scoped_release release;
    orthogonal_from_gaussian(p, m, n);
  } else if (arr.dtype().is(py::dtype::of<double>())) {
    auto* p = static_cast<double*>(arr.mutable_data());
    py::gil_scoped_release release;
    orthogonal_from_gaussian(p, m, n);
  } else {
    throw py::type_error("expected float32 or float64");
  }
}

}  // namespace

void register_orthogonal(py::module_& m) {
  m.def("orthogonal_from_gaussian", &orthogonal_array, py::arg("a"));
}

}  // namespace bindings
}  // namespace fastinit
