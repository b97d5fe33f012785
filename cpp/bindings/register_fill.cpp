// Fills: takes the NumPy array as it is (never forcecast: a silent copy would leave the
// caller's array untouched), releases the GIL for large fills, calls the core.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "fastinit/fill.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace fastinit {
namespace bindings {
namespace {

constexpr std::int64_t kReleaseGilElements = 1 << 15;

using TruncArgs = std::tuple<int, double, double, double, double, bool>;

py::array writable_array(const py::handle& obj) {
  if (!py::isinstance<py::array>(obj)) throw py::type_error("expected a numpy.ndarray");
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.writeable()) throw std::invalid_argument("the array is read-only");
  return arr;
}

void fill_array(const py::handle& obj, int dtype_code, std::uint64_t seed, std::uint64_t stream,
                int kind, double loc, double scale, double clamp_lo, double clamp_hi,
                const std::optional<TruncArgs>& trunc,
                const std::optional<std::vector<std::int64_t>>& global_shape,
                const std::optional<std::vector<std::int64_t>>& offset,
                std::uint64_t base_index) {
  py::array arr = writable_array(obj);
  if (dtype_code < 0 || dtype_code > 3) throw std::invalid_argument("unknown dtype code");
  FillLayout layout;
  layout.dtype = static_cast<DType>(dtype_code);
  if (static_cast<std::size_t>(arr.itemsize()) != dtype_size(layout.dtype)) {
    throw std::invalid_argument("array itemsize does not match the dtype code");
  }
  layout.data = arr.mutable_data();
  const int ndim = static_cast<int>(arr.ndim());
  layout.shape.assign(arr.shape(), arr.shape() + ndim);
  layout.strides.assign(arr.strides(), arr.strides() + ndim);
  if (global_shape) layout.global_shape = *global_shape;
  if (offset) layout.offset = *offset;
  layout.base_index = base_index;
  StreamId id{seed, stream};
  DistParams p;
  p.kind = static_cast<Dist>(kind);
  p.loc = loc;
  p.scale = scale;
  p.clamp_lo = clamp_lo;
  p.clamp_hi = clamp_hi;
  if (trunc) {
    p.method = static_cast<TruncMethod>(std::get<0>(*trunc));
    p.alpha = std::get<1>(*trunc);
    p.beta = std::get<2>(*trunc);
    p.lambda = std::get<3>(*trunc);
    p.mode = std::get<4>(*trunc);
    p.flip = std::get<5>(*trunc);
  }
  if (arr.size() >= kReleaseGilElements) {
    py::gil_scoped_release release;
    fill(layout, id, p);
  } else {
    fill(layout, id, p);
  }
}

void raw_array(const py::handle& obj, std::uint64_t seed, std::uint64_t stream,
               std::uint64_t first_block, unsigned phase, std::uint32_t sub_stream) {
  py::array arr = writable_array(obj);
  if (!arr.dtype().is(py::dtype::of<std::uint32_t>()) ||
      !(arr.flags() & py::array::c_style)) {
    throw std::invalid_argument("random_raw_ needs a C-contiguous uint32 array");
  }
  auto* out = static_cast<std::uint32_t*>(arr.mutable_data());
  const auto count = static_cast<std::size_t>(arr.size());
  StreamId id{seed, stream};
  if (arr.size() >= kReleaseGilElements) {
    py::gil_scoped_release release;
    random_raw(out, count, id, first_block, phase, sub_stream);
  } else {
    random_raw(out, count, id, first_block, phase, sub_stream);
  }
}

}  // namespace

void register_fill(py::module_& m) {
  m.def("fill", &fill_array, py::arg("arr"), py::arg("dtype_code"), py::arg("seed"),
        py::arg("stream"), py::arg("kind"), py::arg("loc"), py::arg("scale"),
        py::arg("clamp_lo"), py::arg("clamp_hi"), py::arg("trunc") = py::none(),
        py::arg("global_shape") = py::none(), py::arg("offset") = py::none(),
        py::arg("base_index") = 0);
  m.def("random_raw", &raw_array, py::arg("out"), py::arg("seed"), py::arg("stream"),
        py::arg("first_block"), py::arg("phase"), py::arg("sub_stream") = 0);
}

}  // namespace bindings
}  // namespace fastinit
