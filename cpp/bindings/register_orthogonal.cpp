// orthogonal_from_gaussian on a C- or Fortran-ordered float32/float64 array, in place
// (interruptible with Ctrl-C), and the GEMM behind it (for tests and benchmarks).
#include <pybind11/numpy.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "fastinit/orthogonal.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace fastinit {
namespace bindings {
namespace {

// Called by the core between blocks, without the GIL: every ~100 ms it takes the GIL and runs
// Python's signal handlers; a pending KeyboardInterrupt (or any exception a handler raises)
// stops the factorisation, and the error stays set for the caller to re-raise.
class SignalPoller {
 public:
  bool operator()() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return false;
    last_ = now;
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

template <class T>
void orthogonal_typed(py::array& arr, bool row_major, std::int64_t m, std::int64_t n) {
  auto* p = static_cast<T*>(arr.mutable_data());
  bool interrupted = false;
  {
    py::gil_scoped_release release;
    SignalPoller poll;
    auto stop = [&poll] { return poll(); };
    try {
      if (row_major) {
        orthogonal_from_gaussian_row_major(p, m, n, stop);
      } else {
        orthogonal_from_gaussian(p, m, n, stop);
      }
    } catch (const Interrupted&) {
      interrupted = true;
    }
  }
  if (interrupted) {
    if (PyErr_Occurred()) throw py::error_already_set();
    throw std::runtime_error("orthogonal_from_gaussian was interrupted");
  }
}

// A Fortran-ordered (rows >= cols) array: Q of its column-major matrix. A C-ordered array G:
// Q of G when rows >= cols (factored row-major, in place), and Q(G^T)^T when rows < cols (the
// memory of G is G^T column-major) -- so orthogonal_ never transposes.
void orthogonal_array(const py::handle& obj) {
  if (!py::isinstance<py::array>(obj)) throw py::type_error("expected a numpy.ndarray");
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  if (arr.ndim() != 2 || !arr.writeable() ||
      !(arr.flags() & (py::array::f_style | py::array::c_style))) {
    throw std::invalid_argument("expected a writable, C- or Fortran-ordered 2-D array");
  }
  const std::int64_t rows = arr.shape(0), cols = arr.shape(1);
  bool row_major = false;
  std::int64_t m = rows, n = cols;
  if ((arr.flags() & py::array::f_style) && rows >= cols) {
    // column-major as it is (also a single column)
  } else if (!(arr.flags() & py::array::c_style)) {
    throw std::invalid_argument(
        "orthogonal_from_gaussian needs rows >= cols for a Fortran-ordered array");
  } else if (rows >= cols) {
    row_major = true;
  } else {
    m = cols;  // G^T, column-major
    n = rows;
  }
  if (rows == 0 || cols == 0) {
    throw std::invalid_argument("orthogonal_from_gaussian needs m >= n >= 1");
  }
  if (arr.dtype().is(py::dtype::of<float>())) {
    orthogonal_typed<float>(arr, row_major, m, n);
  } else if (arr.dtype().is(py::dtype::of<double>())) {
    orthogonal_typed<double>(arr, row_major, m, n);
  } else {
    throw py::type_error("expected float32 or float64");
  }
}

// A 2-D array seen as a column-major matrix: the array itself (unit row stride) or its
// transpose (unit column stride).
struct ColMajor {
  std::int64_t ld;
  bool transposed;  // the column-major matrix is the array's transpose
};

ColMajor as_col_major(const py::array& a, const char* name) {
  const std::int64_t item = a.itemsize();
  const std::int64_t r = a.shape(0), c = a.shape(1);
  const std::int64_t s0 = a.strides(0), s1 = a.strides(1);
  if (r == 0 || c == 0) return {std::max<std::int64_t>(r, 1), false};  // never read
  if ((s0 == item || r <= 1) && s1 > 0 && s1 % item == 0 && s1 / item >= r) {
    return {s1 / item, false};
  }
  if (c <= 1 && (s0 == item || r <= 1)) return {std::max<std::int64_t>(r, 1), false};
  if ((s1 == item || c <= 1) && s0 > 0 && s0 % item == 0 && s0 / item >= c) {
    return {s0 / item, true};
  }
  if (r <= 1 && (s1 == item || c <= 1)) return {std::max<std::int64_t>(c, 1), true};
  throw std::invalid_argument(std::string(name) +
                              " needs a unit stride along one axis (C- or Fortran-ordered)");
}

bool overlaps(const py::array& x, const py::array& y) {
  auto range = [](const py::array& a) {
    const char* lo = static_cast<const char*>(a.data());
    std::int64_t extent = a.itemsize();
    for (py::ssize_t d = 0; d < a.ndim(); ++d) extent += (a.shape(d) - 1) * a.strides(d);
    return std::make_pair(lo, lo + extent);
  };
  if (x.size() == 0 || y.size() == 0) return false;
  const auto rx = range(x), ry = range(y);
  return rx.first < ry.second && ry.first < rx.second;
}

template <class T>
void gemm_typed(const py::array& a, const py::array& b, py::array& c, double alpha, bool accumulate,
                bool trans_a, bool trans_b) {
  const std::int64_t m = c.shape(0), n = c.shape(1);
  const std::int64_t k = trans_a ? a.shape(0) : a.shape(1);
  ColMajor ca = as_col_major(a, "a"), cb = as_col_major(b, "b"), cc = as_col_major(c, "c");
  // column-major op(A) is transposed when exactly one of (requested, storage) transposes
  bool ta = trans_a != ca.transposed, tb = trans_b != cb.transposed;
  const T* pa = static_cast<const T*>(a.data());
  const T* pb = static_cast<const T*>(b.data());
  T* pc = static_cast<T*>(c.mutable_data());
  py::gil_scoped_release release;
  if (!cc.transposed) {
    gemm::gemm(ta, tb, m, n, k, static_cast<T>(alpha), pa, ca.ld, pb, cb.ld, accumulate, pc, cc.ld);
  } else {
    // C^T = op(B)^T op(A)^T; alpha = +-1 is exact on either factor
    gemm::gemm(!tb, !ta, n, m, k, static_cast<T>(alpha), pb, cb.ld, pa, ca.ld, accumulate, pc,
               cc.ld);
  }
}

void gemm_array(const py::handle& ao, const py::handle& bo, const py::handle& co, double alpha,
                double beta, bool trans_a, bool trans_b) {
  for (const py::handle& h : {ao, bo, co}) {
    if (!py::isinstance<py::array>(h)) throw py::type_error("expected numpy.ndarray arguments");
  }
  py::array a = py::reinterpret_borrow<py::array>(ao);
  py::array b = py::reinterpret_borrow<py::array>(bo);
  py::array c = py::reinterpret_borrow<py::array>(co);
  if (a.ndim() != 2 || b.ndim() != 2 || c.ndim() != 2) {
    throw std::invalid_argument("expected 2-D arrays");
  }
  if (!c.writeable()) throw std::invalid_argument("c must be writable");
  if (!a.dtype().is(c.dtype()) || !b.dtype().is(c.dtype())) {
    throw py::type_error("a, b and c must have the same dtype");
  }
  if (beta != 0.0 && beta != 1.0) throw std::invalid_argument("beta must be 0 or 1");
  if (alpha != 1.0 && alpha != -1.0 && !(c.flags() & py::array::f_style)) {
    throw std::invalid_argument("alpha other than +-1 needs a Fortran-ordered c");
  }
  const std::int64_t am = trans_a ? a.shape(1) : a.shape(0), ak = trans_a ? a.shape(0) : a.shape(1);
  const std::int64_t bk = trans_b ? b.shape(1) : b.shape(0), bn = trans_b ? b.shape(0) : b.shape(1);
  if (am != c.shape(0) || bn != c.shape(1) || ak != bk) {
    throw std::invalid_argument("shapes do not match: op(a) is " + std::to_string(am) + "x" +
                                std::to_string(ak) + ", op(b) " + std::to_string(bk) + "x" +
                                std::to_string(bn) + ", c " + std::to_string(c.shape(0)) + "x" +
                                std::to_string(c.shape(1)));
  }
  if (overlaps(c, a) || overlaps(c, b)) throw std::invalid_argument("c must not overlap a or b");
  if (c.dtype().is(py::dtype::of<float>())) {
    gemm_typed<float>(a, b, c, alpha, beta == 1.0, trans_a, trans_b);
  } else if (c.dtype().is(py::dtype::of<double>())) {
    gemm_typed<double>(a, b, c, alpha, beta == 1.0, trans_a, trans_b);
  } else {
    throw py::type_error("expected float32 or float64");
  }
}

}  // namespace

void register_orthogonal(py::module_& m) {
  m.def("orthogonal_from_gaussian", &orthogonal_array, py::arg("a"),
        "In place: the sign-fixed Householder Q of a Gaussian matrix (Fortran-ordered, "
        "rows >= cols), or of G / G^T for a C-ordered G (tall / wide), C-ordered out.");
  m.def("gemm", &gemm_array, py::arg("a"), py::arg("b"), py::arg("c"), py::kw_only(),
        py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("trans_a") = false,
        py::arg("trans_b") = false,
        "c = alpha * op(a) @ op(b) + beta * c in place (beta 0 or 1), op(x) = x.T if trans_x. "
        "Each element sums fused multiply-adds in increasing k within blocks of 256, from "
        "+0; the blocks' sums are added in order (onto c when beta is 1): the same bytes "
        "for every thread count and SIMD level.");
}

}  // namespace bindings
}  // namespace fastinit
