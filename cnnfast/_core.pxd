# Declarations of the C interface (csrc/include/cnnfast.h) for cnnfast/_core.pyx.
# One section per kernel family, in the order of the header.
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

cdef extern from "cnnfast.h" nogil:
    ctypedef int64_t cf_int

    enum:
        CF_OK
        CF_ERR_NOMEM
        CF_ERR_INTERNAL

    ctypedef enum cf_dtype:
        CF_F32
        CF_F64

    ctypedef enum cf_isa:
        CF_ISA_GENERIC
        CF_ISA_AVX2
        CF_ISA_AVX512

    # ---- runtime
    cf_isa cf_isa_detected()
    cf_isa cf_isa_current()
    void cf_isa_set(cf_isa isa)
    const char *cf_isa_name(cf_isa isa)
    int cf_have_openmp()
    int cf_omp_max_threads()
    void cf_index_partition(cf_int n, int parts, int i, cf_int align, cf_int *begin, cf_int *end)
    int cf_index_threads_for(cf_int work, cf_int grain, int nthreads)

    # ---- activations and output layer (frame/eltwise.c, frame/softmax.c)
    ctypedef enum cf_unary_op:
        CF_UNARY_RELU
        CF_UNARY_LEAKY_RELU
        CF_UNARY_ELU
        CF_UNARY_SIGMOID
        CF_UNARY_TANH
        CF_UNARY_SCALE

    ctypedef enum cf_binary_op:
        CF_BINARY_RELU_BWD
        CF_BINARY_LEAKY_RELU_BWD
        CF_BINARY_ELU_BWD
        CF_BINARY_SIGMOID_BWD
        CF_BINARY_TANH_BWD
        CF_BINARY_RRELU

    ctypedef enum cf_ternary_op:
        CF_TERNARY_NOISY_RELU_BWD
        CF_TERNARY_RRELU_BWD

    ctypedef enum cf_softmax_op:
        CF_SOFTMAX_FWD
        CF_LOG_SOFTMAX_FWD
        CF_SOFTMAX_BWD
        CF_LOG_SOFTMAX_BWD

    int cf_eltwise_unary(cf_unary_op op, cf_dtype dt, cf_int n, const void *x, void *y, double param,
                         int nthreads)
    int cf_eltwise_binary(cf_binary_op op, cf_dtype dt, cf_int n, const void *a, const void *b, void *y,
                          double param, int nthreads)
    int cf_eltwise_ternary(cf_ternary_op op, cf_dtype dt, cf_int n, const void *a, const void *b,
                           const void *c, void *y, int nthreads)
    int cf_dropout(cf_dtype dt, cf_int n, const void *x, const unsigned char *mask, void *y, double scale,
                   int nthreads)
    int cf_prelu_fwd(cf_dtype dt, cf_int outer, cf_int channels, cf_int inner, const void *x,
                     const void *w, void *y, int nthreads)
    ctypedef struct cf_adam_coef:
        double decay, weight_decay, lerp, beta2, one_minus_beta2, bias2_sqrt, eps, neg_step_size
        int decoupled, lerp_small

    int cf_adam_step(cf_dtype dt, cf_int n, void *p, const void *g, void *m, void *v,
                     const cf_adam_coef *c, int nthreads)
    int cf_prelu_bwd(cf_dtype dt, cf_int outer, cf_int channels, cf_int inner, const void *dy,
                     const void *x, const void *w, void *dx, void *dw, int nthreads)
    int cf_softmax(cf_softmax_op op, cf_dtype dt, cf_int outer, cf_int L, cf_int inner, const void *a,
                   const void *b, void *out, int nthreads)

    enum:
        CF_ERR_LABEL

    int cf_cross_entropy_fwd(cf_dtype dt, cf_int N, cf_int C, const void *logits, const int64_t *labels,
                             void *probs, double *loss_sum, int nthreads)
    int cf_cross_entropy_bwd(cf_dtype dt, cf_int N, cf_int C, const void *probs, const int64_t *labels,
                             void *dlogits, int nthreads)

    # ---- random activations in training (frame/random.c)
    ctypedef enum cf_random_op:
        CF_RANDOM_RRELU
        CF_RANDOM_GAUSSIAN_NOISE
        CF_RANDOM_NOISY_RELU
        CF_RANDOM_DROPOUT

    int cf_random_activation(cf_random_op op, cf_dtype dt, cf_int n, const void *x, void *y, void *drawn,
                             const uint64_t *seed, double a, double b, int nthreads)
    int cf_philox_words(cf_int groups, uint64_t group0, const uint64_t *seed, uint32_t *words)

    # ---- output buffers (frame/outbuf.c)
    void *cf_outbuf_malloc(size_t size)
    void *cf_outbuf_calloc(size_t nelem, size_t elsize)
    void *cf_outbuf_realloc(void *p, size_t size)
    void cf_outbuf_free(void *p)
    size_t cf_outbuf_set_limit(size_t bytes)
    size_t cf_outbuf_cached()

    # ---- gemm and dense
    int cf_gemm_strided(cf_dtype dtype, cf_int m, cf_int n, cf_int k, double alpha, const void *a,
                        cf_int rs_a, cf_int cs_a, const void *b, cf_int rs_b, cf_int cs_b, double beta,
                        void *c, cf_int rs_c, cf_int cs_c, const void *bias_m, const void *bias_n,
                        int relu, int nthreads)
    const char *cf_gemm_kernel_info(cf_dtype dtype, cf_int out[5])
    int cf_linear_fwd(cf_dtype dtype, cf_int n, cf_int in_, cf_int out, const void *x, const void *w,
                      const void *bias, void *y, int nthreads)
    int cf_linear_bwd(cf_dtype dtype, cf_int n, cf_int in_, cf_int out, const void *dy, const void *x,
                      const void *w, void *dx, void *dw, void *db, int nthreads)

    # ---- convolution (frame/conv2d.c)
    ctypedef struct cf_conv_geom:
        cf_int n, c, h, w, k, p, q, r, s, groups
        cf_int stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left

    int cf_conv_correlate(cf_dtype dtype, const cf_conv_geom *g, const void *image, const void *weight,
                          const void *bias, int relu, void *feature, int nthreads)
    int cf_conv_correlate_adjoint(cf_dtype dtype, const cf_conv_geom *g, const void *feature,
                                  const void *weight, const void *bias, void *image, int nthreads)
    int cf_conv_weight_grad(cf_dtype dtype, const cf_conv_geom *g, const void *image,
                            const void *feature_grad, void *dweight, int nthreads)
    int cf_conv_bias_grad(cf_dtype dtype, cf_int n, cf_int channels, cf_int plane, const void *t,
                          void *db, int nthreads)

    # ---- pooling
    ctypedef struct cf_pool2d:
        cf_int n, c, h, w, p, q
        cf_int kh, kw, sh, sw, ph, pw, dh, dw
        int count_include_pad

    enum:
        CF_ERR_POOL_INDEX

    int cf_maxpool2d_fwd(cf_dtype dt, const cf_pool2d *g, const void *x, void *y,
                         int64_t *indices, int nthreads)
    int cf_maxpool2d_bwd(cf_dtype dt, cf_int nc, cf_int hw, cf_int pq, const void *dy,
                         const int64_t *indices, void *dx, int nthreads)
    int cf_avgpool2d_fwd(cf_dtype dt, const cf_pool2d *g, const void *x, void *y, int nthreads)
    int cf_avgpool2d_bwd(cf_dtype dt, const cf_pool2d *g, const void *dy, void *dx, int nthreads)
    int cf_global_avgpool2d_fwd(cf_dtype dt, cf_int nc, cf_int hw, const void *x, void *y,
                                int nthreads)
    int cf_global_avgpool2d_bwd(cf_dtype dt, cf_int nc, cf_int hw, const void *dy, void *dx,
                                int nthreads)

    # ---- batch normalisation
    ctypedef struct cf_bnorm:
        cf_int n, c, s
        int training, relu
        double momentum, eps

    int cf_batchnorm_fwd(cf_dtype dt, const cf_bnorm *b, const void *x, const void *gamma,
                         const void *beta, void *running_mean, void *running_var, void *y,
                         void *save_mean, void *save_invstd, int nthreads)
    int cf_batchnorm_bwd(cf_dtype dt, const cf_bnorm *b, const void *dy, const void *y,
                         const void *x, const void *gamma, const void *save_mean,
                         const void *save_invstd, void *dx, void *dgamma, void *dbeta,
                         int nthreads)
    ctypedef struct cf_bn_pool:
        cf_int h, w, kh, kw, p, q

    int cf_batchnorm_relu_maxpool_fwd(cf_dtype dt, const cf_bnorm *b, const cf_bn_pool *bp,
                                      const void *x, const void *gamma, const void *beta,
                                      void *running_mean, void *running_var, void *y,
                                      uint8_t *arg, void *save_mean, void *save_invstd,
                                      int nthreads)
    int cf_batchnorm_relu_maxpool_bwd(cf_dtype dt, const cf_bnorm *b, const cf_bn_pool *bp,
                                      const void *dy, const void *y, const uint8_t *arg,
                                      const void *x, const void *gamma, const void *save_mean,
                                      const void *save_invstd, void *dx, void *dgamma,
                                      void *dbeta, int nthreads)
    int cf_fold_batchnorm(cf_dtype dt, cf_int k, cf_int per, const void *weight,
                          const void *bias, const void *gamma, const void *beta,
                          const void *running_mean, const void *running_var, double eps,
                          void *folded_weight, void *folded_bias, int nthreads)
