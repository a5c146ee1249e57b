"""The convolution's special paths (csrc/frame/conv2d_template.h), each against the reference in exact
mode (small-integer data: C equals the reference bit for bit whatever the path, blocking and thread
count), every ISA, 1 and all threads, float32 and float64:
- small feature planes folded, several images per GEMM, in several scratch-sized chunks (forward,
  and the data gradient of pointwise convs); planes of 512+ pixels one image per thread (forward
  and pointwise data gradient);
- correlations one output channel thin (the direct plane kernels with groups = 1);
- the data gradient of a 1-2 channel image at stride 1 (col2im GEMM, not the flipped correlation);
- im2col micro-panels from runs: planes narrower than a tile (many row segments per panel), one
  tile wide and one past it, strides and dilations, and kernels with so many taps x segments that
  the packer falls back to the row gather;
- depthwise convs on small planes (channels interleaved 16 at a time; the forward up to 64 KB planes);
- the weight gradient's transposed product (k/groups > c/groups*r*s), with pixel ranges that cross
  images and exceed the transposer's chunk;
- the weight gradient at stride 1 on the padded pixel grid: images stacked per band, a plane in
  bands of rows, partial kernel blocks, and images with an inf or NaN (left to the GEMM);
- strided 1x1 convs without padding, run as the pointwise conv of the subsampled image;
- float32 forwards at stride 1 on small planes as tiles of one output row's pixels x 32 channels
  (kernels/conv.h, rows), images with an inf or NaN there, large images in bands of rows, and
  small planes of many channels a panel of output channels per task;
- float32 weight gradients of 3x3 kernels as tiles of 9 taps x 32 channels (wgrad_taps), large
  images in bands of rows;
- float32 stride-1 forwards of 1-3 channel images as 4 channels x 64 pixels and their weight
  gradients as 12 taps x 2 channels (stem), correlations one channel thin (stem1: the data
  gradient of one-channel images), and images with an inf or NaN there;
- float32 data gradients at strides above 1 as one stride-1 correlation per phase of the image
  on the rows kernel (adjoint_rows), and conv_transpose2d's forward there (bias, output padding)."""
import numpy as np
import pytest

import cnnfast
from cnnfast import reference as ref

DTYPES = (np.float32, np.float64)

# (n, c, h, w, k, r, s, stride, padding, dilation, groups)
CASES = [
    # folded: 30x30 planes of 300 channels are 1.1 MB (f32) / 2.2 MB (f64) per image: 4 images
    # take two chunks in float32 and four in float64 (forward; then the pointwise data gradient);
    # grouped, strided and pointwise small planes
    (4, 2, 30, 30, 300, 3, 3, 1, 1, 1, 1),
    (5, 8, 7, 7, 8, 3, 3, 1, 1, 1, 2),
    (3, 6, 9, 11, 20, 3, 3, 2, 1, 1, 1),
    (6, 16, 5, 5, 24, 1, 1, 1, 0, 1, 1),
    (4, 300, 30, 30, 2, 1, 1, 1, 0, 1, 1),
    # planes of 512-1023 pixels: not folded, whole images per thread (an odd count of images;
    # grouped; pointwise and 3x3)
    (3, 12, 24, 25, 20, 1, 1, 1, 0, 1, 1),
    (2, 8, 23, 23, 6, 1, 1, 1, 0, 1, 2),
    (3, 5, 24, 23, 10, 3, 3, 1, 1, 1, 1),
    # one output channel: direct kernels, on small and on large planes, strided, grouped
    (3, 5, 9, 9, 1, 3, 3, 1, 1, 1, 1),
    (2, 3, 70, 90, 1, 3, 3, 1, 1, 1, 1),
    (2, 4, 21, 23, 1, 5, 3, 2, (2, 1), 1, 1),
    (2, 6, 12, 12, 2, 3, 3, 1, 1, 1, 2),
    # 1 and 2 image channels at stride 1: the data gradient through col2im; dilated; k > crs
    # (the transposed weight gradient), images of 16 pixels so that depth blocks cross them
    (3, 1, 40, 37, 40, 3, 3, 1, 1, 1, 1),
    (2, 2, 19, 23, 33, 3, 3, 1, 2, 2, 1),
    (20, 1, 4, 4, 16, 3, 3, 1, 1, 1, 1),
    (4, 2, 6, 6, 40, 3, 3, 1, 1, 1, 2),
    # im2col runs: rows of 3 (a dozen segments per 32-wide panel), 32 and 33 wide, odd sizes
    (2, 5, 3, 3, 17, 3, 3, 1, 1, 1, 1),
    (1, 7, 5, 32, 15, 3, 3, 1, 1, 1, 1),
    (1, 7, 4, 33, 15, 3, 3, 1, 1, 1, 1),
    (2, 3, 13, 29, 9, 3, 3, (1, 2), (0, 1), (2, 1), 1),
    # depthwise on small planes, 16 channels at a time (interleaved by block transposes; forward,
    # data and weight gradients): whole and partial channel blocks, 7x7 and 14x14 outputs, a 5x5
    # kernel, stride 2 (dilated), and a stride-2 plane just too large for the gradients' 16x16 buffers
    (2, 19, 14, 14, 19, 3, 3, 1, 1, 1, 19),
    (3, 33, 7, 7, 33, 3, 3, 1, 1, 1, 33),
    (1, 16, 12, 11, 16, 5, 5, 1, 2, 1, 16),
    (2, 24, 13, 13, 24, 3, 3, 2, 1, 1, 24),
    (1, 18, 11, 12, 18, 3, 3, 2, 2, 2, 18),
    (2, 24, 15, 15, 24, 3, 3, 2, 1, 1, 24),
    # the forward's 64 KB planes: 28x28 at stride 1 (900 cells: interleaved in float32, per-plane
    # in float64) and 2, a plane just past them (per-plane), outputs flattened in blocks of four
    # (6 outputs: the last block overlaps; 1 output: one at a time), dilation 2 with padding 2
    (2, 20, 28, 28, 20, 3, 3, 1, 1, 1, 20),
    (1, 17, 28, 28, 17, 3, 3, 2, 1, 1, 17),
    (1, 16, 33, 31, 16, 3, 3, 1, 1, 1, 16),
    (2, 18, 4, 5, 18, 3, 3, 1, 0, 1, 18),
    (3, 5, 3, 3, 5, 3, 3, 1, 0, 1, 5),
    (1, 16, 20, 19, 16, 3, 3, 2, 2, 2, 16),
    # 11x11 taps on 3-wide rows: taps x segments past the runs' stack buffer (the gather path)
    (2, 2, 13, 13, 5, 11, 11, 1, 0, 1, 1),
    # the weight gradient on the padded grid (stride 1): a plane split into bands of rows; blocks
    # of k and c*r*s that do not fill the kernel's 4 x 6 (2 x 4); padding past the kernel; an even
    # kernel with 'same' padding (one more at the bottom/right); dilated; pointwise with padding
    (1, 40, 70, 66, 40, 3, 3, 1, 1, 1, 1),
    (3, 5, 12, 10, 7, 3, 3, 1, 1, 1, 1),
    (2, 3, 5, 6, 4, 3, 3, 1, 3, 1, 1),
    (2, 4, 9, 8, 6, 2, 4, 1, "same", 1, 1),
    (2, 6, 11, 9, 5, 3, 2, 1, (2, 1), (2, 3), 1),
    (2, 6, 4, 5, 9, 1, 1, 1, 1, 1, 1),
    # 1x1 at strides above 1 without padding: the pointwise conv of the subsampled image (odd
    # sizes, unequal strides, folded small planes and a larger one, grouped, one image)
    (3, 6, 9, 11, 20, 1, 1, 2, 0, 1, 1),
    (2, 8, 13, 10, 12, 1, 1, (3, 2), 0, 1, 2),
    (1, 5, 70, 66, 7, 1, 1, 2, 0, 1, 1),
    (2, 4, 7, 7, 5, 1, 1, 2, 1, 1, 1),
    # float32 forwards at stride 1 as pixel x channel tiles (the taps on padding rows skipped), and
    # through them the data gradients at stride 1: 14-wide rows with 32 output channels (one panel;
    # its data gradient: 16 channels, not this path) and 16 in (the data gradient's 32); 7-wide
    # rows with 40 channels (a panel and 8, the tile's left half); 16-wide rows (14 + 2) and 70
    # channels; padding past the image, which leaves some output rows no tap at all; dilated 5x5
    # with unequal padding; one image in bands of rows; 20-wide rows with 64 channels in and out
    (2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1),
    (2, 32, 14, 14, 16, 3, 3, 1, 1, 1, 1),
    (6, 8, 7, 7, 40, 3, 3, 1, 1, 1, 1),
    (2, 6, 9, 16, 70, 3, 3, 1, 1, 1, 1),
    (4, 5, 4, 9, 36, 3, 3, 1, (3, 1), 1, 1),
    (3, 4, 12, 13, 40, 5, 5, 1, (4, 2), 2, 1),
    (1, 12, 16, 16, 32, 3, 3, 1, 1, 1, 1),
    (3, 64, 5, 20, 64, 3, 3, 1, 1, 1, 1),
    # ... whose data gradients pack the flipped kernel from the weight itself: 40 channels (a panel
    # and 8) over 13 (past the packer's blocks of 8), a 3x2 kernel; dilated 3x3 with 11 over 36
    (3, 40, 9, 10, 13, 3, 2, 1, 1, 1, 1),
    (4, 36, 8, 9, 11, 3, 3, 1, (2, 2), 2, 1),
    # ... and at strides 2 and 3, the image's columns split into phases (3x3, 5x5); rows of at
    # most 7 pixels two to a tile where they share their taps (stride 1 and 2; one image of 40
    # rows in two bands)
    (5, 4, 20, 22, 32, 3, 3, 3, 1, 1, 1),
    (2, 3, 23, 21, 40, 5, 5, 2, 2, 1, 1),
    (6, 8, 13, 13, 32, 3, 3, 2, 1, 1, 1),
    (1, 8, 40, 7, 32, 3, 3, 1, 1, 1, 1),
    # float32 weight gradients of 3x3 kernels as taps x 32-channel tiles over each image's pixels
    # (the cases above with 32+ output channels; and) stride 2; stride (1, 2) dilated with
    # padding (2, 1) (both also forwards on the rows path at those strides)
    (4, 6, 19, 17, 33, 3, 3, 2, 1, 1, 1),
    (3, 5, 14, 15, 32, 3, 3, (1, 2), (2, 1), 2, 1),
    # float32 stride-1 forwards of at most 32 taps (1-3 channel images) as 4 channels x 64 pixels
    # of an output row, and their weight gradients as 12 taps x 2 channels over bands of rows
    # (stem; several cases above take it too): 28-wide rows (two vectors); a row of 64 + 6 pixels
    # and 4 + 2 channels; three channels (27 taps: 12 + 12 + 3), 52-wide rows, 9 channels (a group
    # of one), unequal padding; 5x5 with padding past the image (rows with few taps or none; one
    # image in bands); 1x3
    (3, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1),
    (2, 1, 9, 70, 6, 3, 3, 1, 1, 1, 1),
    (2, 3, 11, 50, 9, 3, 3, 1, (1, 2), 1, 1),
    (1, 1, 6, 17, 5, 5, 5, 1, 4, 1, 1),
    (2, 1, 5, 5, 3, 1, 3, 1, (0, 1), 1, 1),
    # ... and correlations one channel thin on the stem path's one-channel kernel (stem1), at any
    # depth: the data gradient of one-channel images (40 channels deep, in bands of input rows;
    # 45 taps, an odd count), and the forwards of one output channel above
    (2, 1, 60, 200, 40, 3, 3, 1, 1, 1, 1),
    (3, 1, 13, 21, 5, 3, 3, 1, 1, 1, 1),
    # ... and a 3-channel 3x3 forward whose output passes 4 MB: its 64-byte-aligned vectors go
    # out as non-temporal stores (100-wide rows: aligned and unaligned ones), fenced per thread
    (2, 3, 100, 100, 64, 3, 3, 1, 1, 1, 1),
    # float32 data gradients at strides above 1 as one stride-1 correlation per phase of the image
    # on the rows path, their pixels scattered (adjoint_rows): 3x3 stride 2 (a phase of one tap,
    # pointwise), 40 channels (a panel and 8) and a 13-wide image (phases 7 and 6 wide); no
    # padding on 17 x 16 (33 channels); padding 2 (phases whose copy starts inside the feature
    # side); 5x5 at strides (3, 2) with padding (2, 1); 2x2 stride 2 (every phase one tap); one
    # image in bands; the last image rows out of every tap's reach; 20-wide phase rows, 64 channels
    (8, 40, 14, 13, 32, 3, 3, 2, 1, 1, 1),
    (6, 33, 17, 16, 36, 3, 3, 2, 0, 1, 1),
    (8, 32, 12, 12, 32, 3, 3, 2, 2, 1, 1),
    (8, 32, 16, 15, 40, 5, 5, (3, 2), (2, 1), 1, 1),
    (9, 32, 10, 12, 32, 2, 2, 2, 0, 1, 1),
    (1, 32, 44, 24, 32, 3, 3, 2, 1, 1, 1),
    (8, 32, 16, 12, 32, 3, 3, 2, 0, 1, 1),
    (2, 64, 40, 40, 64, 3, 3, 2, 1, 1, 1),
    # (the phases store into scratch, a plane each, interleaved into the image's lines at every
    # stride, (2, 1) and (1, 3) too; one image of 32 channels at 100 px passes the scratch's
    # 512 KB: stored in place)
    (4, 32, 14, 13, 36, 3, 3, (2, 1), 1, 1, 1),
    (2, 32, 20, 31, 32, 3, 3, (1, 3), 1, 1, 1),
    (1, 32, 100, 100, 32, 3, 3, 2, 1, 1, 1),
    # ... and wide rows at strides above 1 whatever their channels: a 3-channel 7x7 stem at stride
    # 2 (35-wide rows), 33 channels out over 32 in (20-wide rows and phases), stride (2, 3)
    (2, 3, 40, 70, 32, 7, 7, 2, 3, 1, 1),
    (2, 32, 40, 40, 33, 3, 3, 2, 1, 1, 1),
    (2, 16, 30, 66, 40, 3, 3, (2, 3), 1, 1, 1),
]
IDS = [f"n{c[0]}c{c[1]}h{c[2]}w{c[3]}k{c[4]}r{c[5]}g{c[10]}" for c in CASES]


def ints(rng, shape, dtype):
    return rng.integers(-4, 5, size=shape).astype(dtype)


def same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_paths_exact(isa, nthreads, dtype, case):
    n, c, h, w, k, r, s, stride, padding, dilation, groups = case
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    rng = np.random.default_rng(1)
    x = ints(rng, (n, c, h, w), dtype)
    weight = ints(rng, (k, c // groups, r, s), dtype)
    bias = ints(rng, (k,), dtype)
    copies = [a.copy() for a in (x, weight, bias)]
    want = ref.conv2d(x, weight, bias, **kw)
    same(cnnfast.conv2d(x, weight, bias, **kw), want)
    same(cnnfast.conv2d(x, weight, bias, **kw, activation="relu"), np.maximum(want, 0))
    dy = ints(rng, want.shape, dtype)
    got, exp = cnnfast.conv2d_backward(dy, x, weight, **kw), ref.conv2d_backward(dy, x, weight, **kw)
    for g, e in zip(got, exp):
        same(g, e)
    for a, a0 in zip((x, weight, bias), copies):
        np.testing.assert_array_equal(a, a0)


@pytest.mark.parametrize("case", CASES[:12], ids=IDS[:12])
def test_paths_random(nthreads, case):
    """Random float32 data against the float64 reference, within the depth's rounding."""
    n, c, h, w, k, r, s, stride, padding, dilation, groups = case
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((k, c // groups, r, s)).astype(np.float32)
    y = cnnfast.conv2d(x, weight, **kw)
    want = ref.conv2d(x.astype(np.float64), weight.astype(np.float64), **kw)
    depth = c // groups * r * s
    eps = np.finfo(np.float32).eps
    np.testing.assert_allclose(y, want, rtol=0, atol=4 * depth * eps * np.sqrt(depth) + 1e-6)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, _ = cnnfast.conv2d_backward(dy, x, weight, **kw)
    rx, rw, _ = ref.conv2d_backward(dy.astype(np.float64), x.astype(np.float64), weight.astype(np.float64), **kw)
    pixels = n * y.shape[2] * y.shape[3]
    np.testing.assert_allclose(dx, rx, rtol=0, atol=4 * k * r * s * eps * np.sqrt(k * r * s) + 1e-6)
    np.testing.assert_allclose(dw, rw, rtol=0, atol=4 * pixels * eps * np.sqrt(pixels) + 1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c, k, groups, kernel, padding, dilation", [
    (2, 2, 2, (1, 1), (0, 1), 1),      # depthwise 1x1 with padding: the flipped correlation would need -1
    (2, 2, 2, (2, 1), (1, 1), 1),
    (3, 2, 1, (3, 3), (3, 0), 1),      # padding beyond the kernel's reach on one axis
    (20, 20, 20, (3, 3), (2, 3), (1, 2)),
], ids=["dw1x1", "dw2x1", "dense3x3", "dw-dilated"])
def test_stride1_data_gradient_with_padding_beyond_the_kernel(isa, nthreads, dtype, c, k, groups, kernel, padding,
                                                              dilation):
    """At stride 1 the data gradient is a correlation padded by dilation*(kernel-1) - padding; where
    that is negative it takes the scatter path instead (exact mode)."""
    rng = np.random.default_rng(7)
    x = rng.integers(-4, 5, (2, c, 3, 4)).astype(dtype)
    weight = rng.integers(-4, 5, (k, c // groups, *kernel)).astype(dtype)
    kw = dict(padding=padding, groups=groups, dilation=dilation)
    dy = rng.integers(-4, 5, ref.conv2d(x, weight, **kw).shape).astype(dtype)
    for got, want in zip(cnnfast.conv2d_backward(dy, x, weight, **kw), ref.conv2d_backward(dy, x, weight, **kw)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_grid_weight_gradient_leaves_non_finite_images_to_the_gemm(isa, nthreads, special):
    """The grid's extra columns multiply image values by a zero gradient: an inf in the last column,
    which tap b = 0 never reads, would make that tap's gradient NaN there. The grid path hands such
    images to the GEMM, which matches the reference (exact mode, NaN where the reference has NaN)."""
    rng = np.random.default_rng(3)
    x = rng.integers(-4, 5, (2, 2, 5, 5)).astype(np.float32)
    x[1, 0, 2, 4] = special
    weight = rng.integers(-4, 5, (3, 2, 3, 3)).astype(np.float32)
    dy = rng.integers(-4, 5, (2, 3, 5, 5)).astype(np.float32)
    got = cnnfast.conv2d_backward(dy, x, weight, padding=1)
    with np.errstate(invalid="ignore"):
        want = ref.conv2d_backward(dy, x, weight, padding=1)
    for g, e in zip(got, want):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_rows_path_non_finite_image(isa, nthreads, special):
    """An inf or NaN in the image, in the last column of an edge row, on the rows path: NaN and
    inf exactly where the reference has them (exact mode)."""
    rng = np.random.default_rng(5)
    x = rng.integers(-4, 5, (2, 8, 14, 14)).astype(np.float32)
    weight = rng.integers(-4, 5, (24, 8, 3, 3)).astype(np.float32)
    weight[:, :, 1, 1] = 0  # so that 0 * inf makes NaNs next to infs
    bias = rng.integers(-4, 5, 24).astype(np.float32)
    x[1, 2, 0, 13] = special
    with np.errstate(invalid="ignore"):
        want = ref.conv2d(x, weight, bias, padding=1)
    same(cnnfast.conv2d(x, weight, bias, padding=1), want)


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_stem_path_non_finite_image(isa, nthreads, special):
    """An inf or NaN in a three-channel image on the stem paths, in the last column of an edge
    row: NaN and inf exactly where the reference has them, forward and weight gradient (exact
    mode)."""
    rng = np.random.default_rng(6)
    x = rng.integers(-4, 5, (2, 3, 14, 40)).astype(np.float32)
    weight = rng.integers(-4, 5, (6, 3, 3, 3)).astype(np.float32)
    weight[:, :, 1, 1] = 0  # so that 0 * inf makes NaNs next to infs
    x[1, 2, 0, 39] = special
    with np.errstate(invalid="ignore"):
        want = ref.conv2d(x, weight, None, padding=1)
    same(cnnfast.conv2d(x, weight, None, padding=1), want)
    dy = rng.integers(-4, 5, want.shape).astype(np.float32)
    with np.errstate(invalid="ignore"):
        want_dw = ref.conv2d_backward(dy, x, weight, padding=1)[1]
    same(cnnfast.conv2d_backward(dy, x, weight, padding=1, need_input_grad=False)[1], want_dw)


@pytest.mark.parametrize("stride, n, p", [(1, 2, 24), (2, 2, 24), (1, 6, 7), (2, 6, 7)])
def test_weight_gradient_in_tiles(isa, nthreads, stride, n, p):
    """float32 3x3 weight gradients whose per-thread partial would pass 1 MB (k*c*9 floats):
    whole tiles of 9 taps x 32 channels per thread, each summed over every image in one kernel call
    (a partial last tile of 24 channels; 24x24 and 7x7 outputs, stride 1 and 2; exact mode)."""
    rng = np.random.default_rng(11)
    h = p if stride == 1 else 2 * p - 1
    x = rng.integers(-4, 5, (n, 120, h, h)).astype(np.float32)
    weight = rng.integers(-4, 5, (248, 120, 3, 3)).astype(np.float32)
    dy = rng.integers(-4, 5, (n, 248, p, p)).astype(np.float32)
    got = cnnfast.conv2d_backward(dy, x, weight, stride=stride, padding=1, need_input_grad=False)[1]
    same(got, ref.conv2d_backward(dy, x, weight, stride=stride, padding=1)[1])


@pytest.mark.parametrize("n, h, k, stride", [(6, 7, 40, 1), (4, 15, 104, 2), (1, 17, 40, 1)], ids=["s1", "s2", "n1"])
def test_rows_path_by_panel(isa, nthreads, n, h, k, stride):
    """float32 forwards on the rows path whose weight outweighs the images' copies: the images copied
    once, shared, and a panel of 32 output channels per task (40 and 104 channels: a last panel of
    8; 7x7, 8x8 and 17x17 outputs, rows paired in the first; exact mode, bias and ReLU)."""
    rng = np.random.default_rng(14)
    x = ints(rng, (n, 96, h, h), np.float32)
    weight = ints(rng, (k, 96, 3, 3), np.float32)
    bias = ints(rng, (k,), np.float32)
    want = ref.conv2d(x, weight, bias, stride=stride, padding=1)
    same(cnnfast.conv2d(x, weight, bias, stride=stride, padding=1, activation="relu"), np.maximum(want, 0))
    same(cnnfast.conv2d(x, weight, bias, stride=stride, padding=1), want)


@pytest.mark.parametrize("c, h, w, stride, dilation", [(256, 960, 7, 1, 1), (128, 1200, 12, 2, 2)],
                         ids=["s1", "s2d2"])
def test_rows_path_in_bands(isa, nthreads, c, h, w, stride, dilation):
    """float32 forwards on the rows path whose image's padded copy passes 8 MB: bands of output rows,
    each with the input rows under it, the image's top and bottom rows in the first and last (one
    thread: two bands; 7-wide rows paired in a band, at stride 1; 5-wide rows at stride 2,
    dilation 2; exact mode, bias and ReLU)."""
    rng = np.random.default_rng(13)
    kw = dict(stride=stride, padding=1, dilation=dilation)
    x = ints(rng, (1, c, h, w), np.float32)
    weight = ints(rng, (40, c, 3, 3), np.float32)
    bias = ints(rng, (40,), np.float32)
    want = ref.conv2d(x, weight, bias, **kw)
    same(cnnfast.conv2d(x, weight, bias, **kw, activation="relu"), np.maximum(want, 0))


@pytest.mark.parametrize("n, c, h, k, stride, dilation", [(2, 32, 128, 32, 1, 1), (1, 16, 260, 40, 2, 2)],
                         ids=["s1", "s2d2"])
def test_weight_gradient_in_bands(isa, nthreads, n, c, h, k, stride, dilation):
    """float32 3x3 weight gradients whose image (padded, with its channels-last gradient) passes the
    taps path's 4 MB of scratch per thread: bands of output rows, each with the padded input rows
    under it (2 x 64 rows of 128 at stride 1; 129 rows in 3 bands, the last one shorter, at stride
    2, dilation 2, 40 channels: a panel and 8; exact mode)."""
    rng = np.random.default_rng(12)
    kw = dict(stride=stride, padding=1, dilation=dilation)
    x = ints(rng, (n, c, h, h), np.float32)
    weight = ints(rng, (k, c, 3, 3), np.float32)
    dy = ints(rng, ref.conv2d(x, weight, **kw).shape, np.float32)
    got = cnnfast.conv2d_backward(dy, x, weight, **kw, need_input_grad=False)[1]
    same(got, ref.conv2d_backward(dy, x, weight, **kw)[1])


@pytest.mark.parametrize("case", [(8, 40, 7, 7, 32, 3, 3, 2, 1, (1, 0)), (6, 36, 8, 8, 33, 3, 3, 2, 0, (1, 1)),
                                  (8, 32, 6, 5, 40, 5, 5, (3, 2), (2, 1), (2, 1))],
                         ids=["s2p1", "s2p0", "s32"])
def test_strided_transpose_on_phases(isa, nthreads, case):
    """conv_transpose2d's forward is the strided conv's data gradient: on the phases of the rows
    path it adds the bias to every output pixel, those that output_padding adds (out of every
    tap's reach) included (exact mode)."""
    n, cin, h, w, cout, r, s, stride, padding, output_padding = case
    kw = dict(stride=stride, padding=padding, output_padding=output_padding)
    rng = np.random.default_rng(5)
    x = ints(rng, (n, cin, h, w), np.float32)
    weight = ints(rng, (cin, cout, r, s), np.float32)
    bias = ints(rng, (cout,), np.float32)
    same(cnnfast.conv_transpose2d(x, weight, bias, **kw), ref.conv_transpose2d(x, weight, bias, **kw))
