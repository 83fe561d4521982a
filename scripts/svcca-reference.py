#!/usr/bin/env python3
"""The svcca side of `npm run bench:cca -- --vs-svcca`: google/svcca's get_cca_similarity on the
bench's tensor, timed.

RE-IMPLEMENTATION, NOT THE ORIGINAL: google/svcca is not installed here and PyPI is unreachable, so
`svcca_get_cca_similarity` below re-implements, step for step and with the same numpy calls in the
same order, the algorithm of cca_core.get_cca_similarity (github.com/google/svcca, cca_core.py, read
at commit 08f8935e) with its defaults (threshold=0.98, compute_coefs=True, compute_dirns=False) except
epsilon = 1e-10 (EPSILON below): with svcca's default epsilon = 0 it fails on the bench's input layer,
whose 112 constant pixels make the covariance singular (pinv, then the square roots of its tiny
negative eigenvalues are NaN and np.linalg.svd does not converge). The steps: np.cov of the stacked activations, the covariance blocks rescaled by their
largest magnitude, directions with a diagonal below epsilon dropped, epsilon added to the diagonals,
np.linalg.pinv of each side, the inverse square roots through np.linalg.eigh, the whitened cross
covariance, np.linalg.svd (full matrices), the coefficient matrices scattered back over all neurons
with np.place, the neuron means, and the 0.98 threshold summary. It runs outside the project's
dependencies on the system's numpy.

Usage: svcca-reference.py DIR CHECKPOINTS [PAIRS]
DIR holds ref{l}.npy [samples, width] and noise{l}.npy (l >= 1) written by bench-cca.ts; specimen
layer j at checkpoint t is built as there. PAIRS (a multiple of the 25 layer pairs) times only the
layer pairs of PAIRS / 25 checkpoints spread over the run and extrapolates to all. Prints one JSON line.
"""

import json
import sys
import time

import numpy as np


def _sqrt_psd(a):
    # matrix square root of a symmetric positive semi-definite matrix via its eigendecomposition
    w, v = np.linalg.eigh(a)
    return np.dot(v, np.dot(np.diag(np.sqrt(w)), np.conj(v).T))


def _ccas(sxx, sxy, syx, syy, epsilon):
    xk = np.abs(np.diagonal(sxx)) >= epsilon
    yk = np.abs(np.diagonal(syy)) >= epsilon
    sxx, sxy, syx, syy = sxx[xk][:, xk], sxy[xk][:, yk], syx[yk][:, xk], syy[yk][:, yk]
    nx, ny = sxx.shape[0], syy.shape[0]
    if nx == 0 or ny == 0:
        return ([0, 0, 0], np.zeros_like(sxx), np.zeros_like(syy), xk, yk)
    sxx += epsilon * np.eye(nx)
    syy += epsilon * np.eye(ny)
    ixx = _sqrt_psd(np.linalg.pinv(sxx))
    iyy = _sqrt_psd(np.linalg.pinv(syy))
    arr = np.dot(ixx, np.dot(sxy, iyy))
    u, s, v = np.linalg.svd(arr)
    return ([u, np.abs(s), v], ixx, iyy, xk, yk)


def _threshold_index(s, threshold):
    for i in range(len(s)):
        if np.sum(s[:i]) / np.sum(s) >= threshold:
            return i
    return None


def svcca_get_cca_similarity(acts1, acts2, epsilon=0.0, threshold=0.98):
    """acts [neurons, datapoints], as svcca takes them. Returns its dict's coefficients and summaries."""
    assert acts1.shape[1] == acts2.shape[1]
    assert acts1.shape[0] < acts1.shape[1]
    nx, ny = acts1.shape[0], acts2.shape[0]
    cov = np.cov(acts1, acts2)
    sxx, sxy = cov[:nx, :nx], cov[:nx, nx:]
    syx, syy = cov[nx:, :nx], cov[nx:, nx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx /= xmax
    syy /= ymax
    sxy /= np.sqrt(xmax * ymax)
    syx /= np.sqrt(xmax * ymax)
    (u, s, v), ixx, iyy, xk, yk = _ccas(sxx, sxy, syx, syy, epsilon)
    out = {}
    if not np.any(xk) or not np.any(yk):
        return {"mean": (0, 0), "sum": (0, 0), "cca_coef1": np.asarray(0)}
    # compute_coefs=True
    xm = np.dot(xk.reshape((-1, 1)), xk.reshape((1, -1)))
    ym = np.dot(yk.reshape((-1, 1)), yk.reshape((1, -1)))
    out["coef_x"], out["invsqrt_xx"] = u.T, ixx
    out["full_coef_x"] = np.zeros((nx, nx))
    np.place(out["full_coef_x"], xm, out["coef_x"])
    out["full_invsqrt_xx"] = np.zeros((nx, nx))
    np.place(out["full_invsqrt_xx"], xm, out["invsqrt_xx"])
    out["coef_y"], out["invsqrt_yy"] = v, iyy
    out["full_coef_y"] = np.zeros((ny, ny))
    np.place(out["full_coef_y"], ym, out["coef_y"])
    out["full_invsqrt_yy"] = np.zeros((ny, ny))
    np.place(out["full_invsqrt_yy"], ym, out["invsqrt_yy"])
    out["neuron_means1"] = np.mean(acts1, axis=1, keepdims=True)
    out["neuron_means2"] = np.mean(acts2, axis=1, keepdims=True)
    i1 = _threshold_index(s, threshold)
    i2 = _threshold_index(s, threshold)
    out["cca_coef1"], out["cca_coef2"] = s, s
    out["x_idxs"], out["y_idxs"] = xk, yk
    out["mean"] = (np.mean(s[:i1]), np.mean(s[:i2]))
    out["sum"] = (np.sum(s), np.sum(s))
    return out


# svcca's epsilon: directions whose (rescaled) variance is below it are dropped, and it is added to the
# diagonals. 0 (svcca's default) fails on constant neurons, see above.
EPSILON = 1e-10


def main():
    folder, checkpoints = sys.argv[1], int(sys.argv[2])
    pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 25 * checkpoints
    layers = 5
    refs = [np.load(f"{folder}/ref{l}.npy") for l in range(layers)]
    noise = [None] + [np.load(f"{folder}/noise{l}.npy") for l in range(1, layers)]
    ref_t = [np.ascontiguousarray(r.T) for r in refs]  # [neurons, datapoints]

    def specimen(j, t):  # as bench-cca.ts's specimen(j, t), [neurons, datapoints]
        if j == 0:
            return ref_t[0]
        w = (t + 1) / checkpoints
        v = w * refs[j] + (1 - w) * noise[j]
        if j < layers - 1:
            v = np.maximum(v, 0)
        return np.ascontiguousarray(v.T)

    timed_checkpoints = max(1, min(checkpoints, pairs // (layers * layers)))
    chosen = sorted({round(k * (checkpoints - 1) / max(1, timed_checkpoints - 1)) for k in range(timed_checkpoints)})
    seconds = 0.0
    cpu = 0.0  # CPU seconds of every thread of this process (numpy's OpenBLAS threads included)
    timed = 0
    for t in chosen:
        for j in range(layers):
            y = specimen(j, t)  # built outside the timed calls
            for i in range(layers):
                start, start_cpu = time.perf_counter(), time.process_time()
                result = svcca_get_cca_similarity(ref_t[i], y, epsilon=EPSILON)
                seconds += time.perf_counter() - start
                cpu += time.process_time() - start_cpu
                timed += 1
                assert np.all(np.isfinite(result["cca_coef1"]))
    all_pairs = layers * layers * checkpoints
    print(
        json.dumps(
            {
                "pairs_timed": timed,
                "checkpoints_timed": chosen,
                "seconds_timed": round(seconds, 2),
                "seconds_per_pair": round(seconds / timed, 4),
                "seconds_all_pairs": round(seconds * all_pairs / timed, 2),
                "cpu_seconds_all_pairs": round(cpu * all_pairs / timed, 2),
                "epsilon": EPSILON,
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
