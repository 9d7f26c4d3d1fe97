"""msff_torch.py -- hpinn's multiscale Fourier feature network in PyTorch, shared
by the benchmarks' twins (bench_networks_torch.py, time_to_accuracy_torch.py).

The frozen embeddings [cos 2 pi x B_k, sin 2 pi x B_k] of every scale go through
the same hidden layers; the last hidden outputs of all scales are concatenated
into one linear output, as in plugins/networks/msff."""
import math

import torch


def read_msff(take, d, depth, width, m, n_scales):
    """B_k (m x d), the hidden layers [(W, b)] and the output (w, b) from the
    dump reader take(n, shape), in hpinn's parameter order."""
    B = [take(m * d, (m, d)) for _ in range(n_scales)]
    layers = []
    n_in = 2 * m
    for _ in range(depth):
        layers.append((take(width * n_in, (width, n_in)), take(width)))
        n_in = width
    w_out, b_out = take(n_scales * width, (1, n_scales * width)), take(1)
    return B, layers, w_out, b_out


def msff(B, layers, w_out, b_out, swish):
    """The network as a function of the points (M x d) -> (M x 1)."""
    act = (lambda z: z * torch.sigmoid(z)) if swish else torch.tanh

    def network(xx):
        outs = []
        for Bk in B:
            s = 2.0 * math.pi * (xx @ Bk.T)
            h = torch.cat((torch.cos(s), torch.sin(s)), dim=1)
            for w, b in layers:
                h = act(h @ w.T + b)
            outs.append(h)
        return torch.cat(outs, dim=1) @ w_out.T + b_out

    return network
