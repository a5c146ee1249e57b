/* kernels/conv_dot_template.h -- wgrad_dot (contract: kernels/conv.h) in plain C, for the folders
 * without a SIMD version of their own: a 2 x 4 block of dot products, DL lanes each, the lanes an
 * inner loop the compiler vectorises under the folder's flags. Included once per dtype with T,
 * KN(op) and DL. */
void KN(wgrad_dot_2x4)(cf_int len, int mi, int nj, const T *a, cf_int lda, const T *b, const cf_int *boff, T *acc,
                       cf_int ldacc) {
    T s[2][4][DL];
    const T *ar[2], *br[4];
    for (int i = 0; i < 2; ++i) ar[i] = a + (i < mi ? i : 0) * lda; /* rows past the block repeat row 0 */
    for (int j = 0; j < 4; ++j) br[j] = b + boff[j < nj ? j : 0];
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 4; ++j)
            for (int l = 0; l < DL; ++l) s[i][j][l] = i < mi && j < nj ? acc[(i * ldacc + j) * DL + l] : (T)0;
    for (cf_int u = 0; u < len; u += DL)
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 4; ++j)
                for (int l = 0; l < DL; ++l) s[i][j][l] += ar[i][u + l] * br[j][u + l];
    for (int i = 0; i < mi; ++i)
        for (int j = 0; j < nj; ++j)
            for (int l = 0; l < DL; ++l) acc[(i * ldacc + j) * DL + l] = s[i][j][l];
}
