"""bench_networks_torch.py -- the PyTorch twin of bench_networks.c.

The same multiscale Fourier feature network (shared hidden layers over K frozen
embeddings, last hidden outputs concatenated into a linear output layer), the same
hard boundary lift v = l(x) N(x) and the same PINN residual loss
    rho = -K Lap v - grad K . grad v - f,   J = mean(rho^2),
with grad v and Lap v from autograd (create_graph=True) and dJ/dtheta from
J.backward(): float64, 2 threads. Weights, B_k, points and problem data come from
the dump the C benchmark writes, so both compute the same loss.

    /usr/bin/python3 bench_networks_torch.py DUMP ITERS
prints one line: torch loss <J> ms <median ms per iteration> first <first ms>
"""
import statistics
import sys
import time

import numpy as np
import torch

from msff_torch import msff, read_msff


def main():
    dump, iters = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(2)
    torch.set_default_dtype(torch.float64)
    raw = np.fromfile(dump, dtype=np.float64)
    d, depth, width, m, K, M, swish = (int(v) for v in raw[:7])
    pos = 8

    def take(n, shape=None):
        nonlocal pos
        a = torch.from_numpy(raw[pos:pos + n].copy())
        pos += n
        return a.reshape(shape) if shape else a

    B, layers, w_out, b_out = read_msff(take, d, depth, width, m, K)
    x = take(M * d, (M, d))
    Kc, gK, f = take(M), take(M * d, (M, d)), take(M)
    assert pos == raw.size, "dump layout mismatch"
    params = [p for wb in layers for p in wb] + [w_out, b_out]
    for p in params:
        p.requires_grad_(True)
    x.requires_grad_(True)
    network = msff(B, layers, w_out, b_out, swish)

    def iteration():
        for p in params:
            p.grad = None
        lift = torch.prod(x * (1.0 - x), dim=1, keepdim=True)
        v = lift * network(x)
        grad = torch.autograd.grad(v.sum(), x, create_graph=True)[0]
        lap = sum(torch.autograd.grad(grad[:, c].sum(), x, create_graph=True)[0][:, c]
                  for c in range(d))
        rho = -Kc * lap - (gK * grad).sum(dim=1) - f
        J = (rho * rho).mean()
        J.backward()
        return J.item()

    t0 = time.perf_counter()
    J = iteration()
    first = 1e3 * (time.perf_counter() - t0)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        iteration()
        times.append(1e3 * (time.perf_counter() - t0))
    print(f"torch loss {J:.17g} ms {statistics.median(times):.6f} first {first:.6f}")


if __name__ == "__main__":
    main()
