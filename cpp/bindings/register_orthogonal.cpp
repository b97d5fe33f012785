#include "register.hpp"

namespace fastinit {
namespace bindings {

void register_orthogonal(pybind11::module_& /*m*/) {}

}  // namespace bindings
}  // namespace fastinit
