// One KernelSet (include/fernet/kernels/kernel_set.hpp), compiled once per instruction-set level
// by dispatch/CMakeLists.txt: the flags of each copy decide FERNET_ISA, hence the namespace its
// kernels and its kernel_set live in.
#include <fernet/kernels/gemm.hpp>
#include <fernet/kernels/half.hpp>

namespace fernet::kernels {
inline namespace FERNET_ISA {

extern const KernelSet kernel_set;
const KernelSet kernel_set{compiled_isa_name(), &gemm_simd, &linear_half_simd};

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
