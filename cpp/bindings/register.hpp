#pragma once

#include <pybind11/pybind11.h>

namespace fastinit {
namespace bindings {

void register_runtime(pybind11::module_& m);
void register_fill(pybind11::module_& m);
void register_orthogonal(pybind11::module_& m);

}  // namespace bindings
}  // namespace fastinit
