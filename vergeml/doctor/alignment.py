"""Geometric verification of near-duplicate candidates: align two pictures, then compare.

A copy that was resized and cropped a little is the same picture at another
scale and position, which a comparison of thumbnails at a few pixel offsets
misses on fine textures, and which two different crops of one scene resemble.
So a candidate pair is aligned: both images are decoded to a grey
:data:`SIDE` x :data:`SIDE` thumbnail (the whole picture, squeezed), and the
transform of the second onto the first, ``x = scale * u + shift`` on each axis
(no rotation: copies are not rotated), is searched:

1. coarse: the central :data:`INNER` of the second thumbnail, resized by each
   of :data:`STEPS` scales between ``1 / MAX_SCALE`` and :data:`MAX_SCALE`, is
   matched against the first at every position by normalised cross-correlation
   (all pairs at once, one FFT per scale);
2. fine: :data:`ITERATIONS` Gauss-Newton steps on the two scales and two
   shifts (one of each per axis, so a crop that took more of one side than of
   the other is followed too), maximising the match over the whole overlap.
   A picture with structure along one line only (a horizon, an edge) fits
   many scales alike; weak pulls towards equal scales (:data:`ISOTROPY`) and
   towards scale 1 (:data:`UNIT`, and :data:`TIE` in the coarse search) pick
   the plainest of them, as a copy mostly keeps its frame.

What comes out is judged by the caller: the normalised cross-correlation of
the aligned pictures over their overlap (near 1 for a copy; JPEG noise and
resampling cost a little), the aligned RMS difference, the *contrast* (the
geometric mean of the two standard deviations there), and the *overlap*, the
intersection over union of the two frames once aligned (a 5% crop shows 90%
of its original; two different crops of one scene usually share less). The
thumbnails are smoothed a little first (:data:`BLUR`), so that pictures
resampled differently compare alike.
"""
import numpy as np

SIDE = 64            # the grey thumbnail's side, in pixels
INNER = 0.75         # the share of the second thumbnail (centred) matched in the coarse search
MAX_SCALE = 1.15     # the largest scale searched either way (a crop of 13% of each side)
STEPS = 11           # scales of the coarse search, evenly spaced in log scale
ITERATIONS = 4       # Gauss-Newton steps of the fine search
BLUR = 0.8           # the Gaussian smoothing of the thumbnails (sigma, pixels)
ISOTROPY = 0.1       # the weight of equal scales on both axes, against the picture's own evidence
UNIT = 0.5           # ... and of scale 1, relative to that
TIE = 0.01           # what the coarse search pays for the largest scale, in correlation
CHUNK = 256          # pairs aligned at a time (memory: ~0.1 MB a pair)


def grey_thumbnails(paths):
    """The grey :data:`SIDE` x :data:`SIDE` thumbnail of each file, decoded small on a few threads.

    Args:
        paths: file paths.

    Returns:
        ``float32 (n, SIDE, SIDE)``, grey levels 0-255; an unreadable file is all NaN.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        thumbs = list(pool.map(_grey_thumbnail, paths))
    return np.stack(thumbs) if thumbs else np.empty((0, SIDE, SIDE), np.float32)


def _grey_thumbnail(path):
    from PIL import Image

    from vergeml.data.images import BadImageError, load_image
    try:
        image = load_image(path, draft=(SIDE, SIDE)).convert("L")
    except BadImageError:
        return np.full((SIDE, SIDE), np.nan, np.float32)
    # BOX averages when shrinking (no aliasing); enlarging a tiny picture needs interpolation.
    method = Image.Resampling.BOX if min(image.size) >= SIDE else Image.Resampling.BICUBIC
    return np.asarray(image.resize((SIDE, SIDE), method), np.float32)


def align(first, second):
    """Align ``second[n]`` onto ``first[n]`` for each pair and measure how alike they are.

    Args:
        first, second: ``float32 (n, SIDE, SIDE)`` grey thumbnails (:func:`grey_thumbnails`).

    Returns:
        A dict of arrays, one entry per pair: ``ncc`` (normalised cross-correlation of the
        aligned thumbnails over their overlap, -1 to 1), ``rms`` (their RMS difference there,
        grey levels), ``contrast`` (the geometric mean of their standard deviations there),
        ``overlap`` (intersection over union of the two aligned frames, 0 to 1)
        and ``scale`` (the geometric mean of the two scales: the first's pixels per the second's).
    """
    names = ("ncc", "rms", "contrast", "overlap", "scale")
    parts = {name: [] for name in names}
    for start in range(0, len(first), CHUNK):
        a, b = _smooth(first[start:start + CHUNK]), _smooth(second[start:start + CHUNK])
        params = _refine(a, b, _coarse(a, b))
        for name, values in zip(names, _measure(a, b, params)):
            parts[name].append(values)
    return {name: np.concatenate(values) if values else np.empty(0) for name, values in parts.items()}


def _smooth(thumbs):
    """The thumbnails blurred by a small Gaussian (separable, edges repeated)."""
    from scipy.ndimage import gaussian_filter1d
    out = gaussian_filter1d(np.asarray(thumbs, np.float32), BLUR, axis=1, mode="nearest")
    return gaussian_filter1d(out, BLUR, axis=2, mode="nearest")


def _coarse(a, b):
    """The best of the scale grid and every position: ``(n, 4)`` params ``(sy, sx, ty, tx)``.

    The transform maps a pixel ``u`` of ``b`` (pixel centres at 0 .. SIDE - 1) to
    ``scale * (u - c) + c + shift`` in ``a``, ``c`` the centre; likewise for rows.
    """
    n, side = len(a), SIDE
    inner = int(round(INNER * side))
    low = (side - inner) // 2
    template = b[:, low:low + inner, low:low + inner]
    spectrum = np.fft.rfft2(a)
    squares = _integral(a * a)
    sums = _integral(a)
    best = np.full(n, -np.inf)
    params = np.zeros((n, 4))
    centre = (side - 1) / 2
    for scale in np.exp(np.linspace(-np.log(MAX_SCALE), np.log(MAX_SCALE), STEPS)):
        size = min(side, int(round(inner * scale)))
        matrix = _resize_matrix(inner, size)
        resized = matrix @ template @ matrix.T
        resized -= resized.mean(axis=(1, 2), keepdims=True)
        energy = np.einsum("nyx,nyx->n", resized, resized)
        padded = np.zeros((n, side, side), np.float32)
        padded[:, :size, :size] = resized
        # Circular correlation: positions 0 .. side - size do not wrap.
        product = np.fft.irfft2(spectrum * np.conj(np.fft.rfft2(padded)), s=(side, side))
        product = product[:, :side - size + 1, :side - size + 1]
        window_sum = _window(sums, size)
        variance = _window(squares, size) - window_sum ** 2 / size ** 2
        score = product / np.sqrt(np.maximum(variance, 1e-6) * np.maximum(energy, 1e-6)[:, None, None])
        # Among near-equal matches the scale nearest 1 wins (a copy mostly keeps its frame).
        flat = score.reshape(n, -1) - TIE * abs(np.log(scale)) / np.log(MAX_SCALE)
        top = flat.argmax(axis=1)
        better = flat[np.arange(n), top] > best
        best = np.where(better, flat[np.arange(n), top], best)
        row, col = np.divmod(top, side - size + 1)
        ratio = size / inner
        # Template pixel v (of b: v + low) lands on row + (v + 0.5) * ratio - 0.5 of a.
        for axis, offset in ((0, row), (1, col)):
            shift = offset + (centre - low + 0.5) * ratio - 0.5 - centre
            params[better, axis] = ratio
            params[better, axis + 2] = shift[better]
    return params


def _integral(x):
    """Summed-area tables ``(n, side + 1, side + 1)``, a zero row and column first."""
    out = np.zeros((len(x), x.shape[1] + 1, x.shape[2] + 1))
    out[:, 1:, 1:] = x.cumsum(axis=1).cumsum(axis=2)
    return out


def _window(table, size):
    """The sums over every ``size`` x ``size`` window, from a summed-area table."""
    return table[:, size:, size:] - table[:, :-size, size:] - table[:, size:, :-size] + table[:, :-size, :-size]


def _resize_matrix(before, after):
    """``(after, before)`` linear interpolation weights resizing a line of ``before`` pixels to ``after``."""
    where = np.clip((np.arange(after) + 0.5) * before / after - 0.5, 0, before - 1)
    low = np.clip(np.floor(where), 0, before - 2).astype(np.intp)
    matrix = np.zeros((after, before), np.float32)
    matrix[np.arange(after), low] = 1 - (where - low)
    matrix[np.arange(after), low + 1] = where - low
    return matrix


def _sampling(params):
    """Where each row and column of ``b`` lands in ``a``: ``(ys, xs)``, each ``(n, SIDE)``."""
    centre = (SIDE - 1) / 2
    u = np.arange(SIDE) - centre
    return (params[:, 0:1] * u + centre + params[:, 2:3],
            params[:, 1:2] * u + centre + params[:, 3:4])


def _warp(images, ys, xs):
    """``images (n, ..., SIDE, SIDE)`` sampled at rows ``ys`` and columns ``xs`` (each ``(n, SIDE)``;
    separable, as there is no rotation), linearly; and the mask of the samples inside the frame."""
    inside = [(at >= -0.5) & (at <= SIDE - 0.5) for at in (ys, xs)]
    extra = (slice(None),) + (None,) * (images.ndim - 3)
    # Two sparse interpolation matrices per pair: a dense product is faster than a gather here.
    rows, cols = _interpolation(ys)[extra], _interpolation(xs)[extra]
    return rows @ images @ np.swapaxes(cols, -1, -2), inside[0][:, :, None] & inside[1][:, None, :]


def _interpolation(at):
    """``(n, SIDE, SIDE)`` linear interpolation weights of positions ``at (n, SIDE)`` (clamped at the edges)."""
    low = np.clip(np.floor(at), 0, SIDE - 2).astype(np.intp)
    frac = np.clip(at - low, 0, 1).astype(np.float32)
    weights = np.zeros(at.shape + (SIDE,), np.float32)
    np.put_along_axis(weights, low[..., None], 1 - frac[..., None], axis=-1)
    np.put_along_axis(weights, low[..., None] + 1, frac[..., None], axis=-1)
    return weights


def _refine(a, b, params):
    """Gauss-Newton steps on ``(sy, sx, ty, tx)``: the least squares of ``gain * a(warp) + bias - b``."""
    n = len(a)
    stack = np.stack([a, *np.gradient(a, axis=(1, 2))], axis=1)
    u = (np.arange(SIDE) - (SIDE - 1) / 2).astype(np.float32)
    for _ in range(ITERATIONS):
        ys, xs = _sampling(params)
        sampled, mask = _warp(stack, ys, xs)
        warped, gy, gx = sampled[:, 0], sampled[:, 1], sampled[:, 2]
        weight = mask.astype(np.float32)
        count = np.maximum(weight.sum(axis=(1, 2)), 1.0)
        gain = _gain(warped, b, weight, count)[:, None, None]
        bias = ((b - gain * warped) * weight).sum(axis=(1, 2)) / count
        residual = (b - gain * warped - bias[:, None, None]) * weight
        # Columns: d/d sy, d/d sx, d/d ty, d/d tx of gain * a(warp), then the bias.
        jac = np.stack([gy * u[None, :, None], gx * u[None, None, :], gy, gx], axis=-1) * gain[..., None]
        jac = np.concatenate([jac, np.ones_like(jac[..., :1])], axis=-1).reshape(n, -1, 5)
        masked = jac * weight.reshape(n, -1, 1)
        normal = masked.transpose(0, 2, 1) @ jac + 1e-3 * np.eye(5, dtype=np.float32)
        target = masked.transpose(0, 2, 1) @ residual.reshape(n, -1, 1)
        # A weak pull towards equal scales: a picture with structure along one axis only
        # (a bar, a horizon) leaves the other scale free, and it would wander.
        pull = ISOTROPY * (normal[:, 0, 0] + normal[:, 1, 1]) / 2
        normal[:, :2, :2] += pull[:, None, None] * np.array([[1 + UNIT, -1], [-1, 1 + UNIT]], np.float32)
        target[:, :2, 0] -= pull[:, None] * (np.array([1, -1]) * (params[:, 0] - params[:, 1])[:, None]
                                               + UNIT * (params[:, :2] - 1))
        step = np.linalg.solve(normal, target)[..., 0]
        params = params + step[:, :4]
        params[:, :2] = np.clip(params[:, :2], 1 / (MAX_SCALE * 1.1), MAX_SCALE * 1.1)
        params[:, 2:] = np.clip(params[:, 2:], -SIDE / 4, SIDE / 4)
    return params


def _centred(x, weight, count):
    """``x`` less its mean over ``weight`` (``count`` its sum), per picture."""
    return x - (x * weight).sum(axis=(1, 2))[:, None, None] / count[:, None, None]


def _gain(warped, b, weight, count):
    """The least-squares gain of ``warped`` onto ``b`` over ``weight`` (both centred), kept positive."""
    wa, wb = _centred(warped, weight, count), _centred(b, weight, count)
    gain = (wa * wb * weight).sum(axis=(1, 2)) / np.maximum((wa * wa * weight).sum(axis=(1, 2)), 1e-6)
    return np.clip(gain, 0.1, 10.0)


def _measure(a, b, params):
    """``(ncc, rms, contrast, overlap, scale)`` of each pair at its alignment ``params``."""
    ys, xs = _sampling(params)
    warped, mask = _warp(a, ys, xs)
    weight = mask.astype(np.float32)
    count = np.maximum(weight.sum(axis=(1, 2)), 1.0)
    wa, wb = _centred(warped, weight, count), _centred(b, weight, count)
    energy = np.sqrt((wa * wa * weight).sum(axis=(1, 2)) * (wb * wb * weight).sum(axis=(1, 2)))
    ncc = (wa * wb * weight).sum(axis=(1, 2)) / np.maximum(energy, 1e-6)
    contrast = np.sqrt(energy / count)
    diff = warped - b
    rms = np.sqrt((diff * diff * weight).sum(axis=(1, 2)) / count)
    overlap = _frame_overlap(ys, xs)
    ncc[count < SIDE * SIDE / 4] = -1.0   # too little overlap to say anything
    return ncc, rms, contrast, overlap, np.sqrt(params[:, 0] * params[:, 1])


def _frame_overlap(ys, xs):
    """Intersection over union of ``a``'s frame and ``b``'s frame mapped into ``a``."""
    def extent(at):
        step = (at[:, -1] - at[:, 0]) / (SIDE - 1)
        return at[:, 0] - step / 2, at[:, -1] + step / 2

    (top, bottom), (left, right) = extent(ys), extent(xs)
    high = np.clip(np.minimum(bottom, SIDE - 0.5) - np.maximum(top, -0.5), 0, None)
    wide = np.clip(np.minimum(right, SIDE - 0.5) - np.maximum(left, -0.5), 0, None)
    inter = high * wide
    return inter / (SIDE * SIDE + (bottom - top) * (right - left) - inter)
