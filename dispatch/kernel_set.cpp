// One KernelSet (include/fernet/kernels/kernel_set.hpp), compiled once per instruction-set level
// by dispatch/CMakeLists.txt: the flags of each copy decide FERNET_ISA, hence the namespace its
// kernels and its kernel_set live in.
#include <fernet/kernels/batchnorm.hpp>
#include <fernet/kernels/conv_relu_pool.hpp>
#include <fernet/kernels/direct_conv.hpp>
#include <fernet/kernels/element_rules.hpp>
#include <fernet/kernels/elementwise.hpp>
#include <fernet/kernels/gemm.hpp>
#include <fernet/kernels/half.hpp>
#include <fernet/kernels/im2col.hpp>
#include <fernet/kernels/pooling.hpp>
#include <fernet/kernels/updates.hpp>

namespace fernet::kernels {
inline namespace FERNET_ISA {

extern const KernelSet kernel_set;
const KernelSet kernel_set{
    .name = compiled_isa_name(),
    .gemm = &gemm_simd,
    .linear_half = &linear_half_simd,
    .relu_forward = &relu_forward_simd,
    .relu_backward = &relu_backward_simd,
    .add_inplace = &add_inplace_simd,
    .add = &add_simd,
    .sum = &sum_simd,
    .dropout_forward = &dropout_forward_simd,
    .dropout_backward = &dropout_backward_simd,
    .adam_update = &adam_update_simd,
    .sgd_update = &sgd_update_simd,
    .im2col_stride1 = &im2col_stride1_simd,
    .col2im_stride1 = &col2im_stride1_simd,
    .direct_conv_forward = &direct_conv_forward_simd,
    .direct_conv_relu_pool_forward = &direct_conv_relu_pool_forward_simd,
    .direct_conv_relu_pool_backward = &direct_conv_relu_pool_backward_simd,
    .max_pool_2x2_forward = &max_pool_2x2_forward_simd,
    .max_pool_2x2_backward = &max_pool_2x2_backward_simd,
    .max_pool_window_forward = &max_pool_window_forward_simd,
    .batchnorm_statistics = &batchnorm_statistics_simd,
    .batchnorm_scale_shift = &batchnorm_scale_shift_simd,
    .batchnorm_backward_sums = &batchnorm_backward_sums_simd,
    .batchnorm_backward_input = &batchnorm_backward_input_simd,
};

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
