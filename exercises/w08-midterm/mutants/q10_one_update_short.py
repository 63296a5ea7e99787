# why: counts h_0 as the first iterate and so applies only J - 1 updates
def lissa_solve(H, v, scale, iters, damping=0.0):
    H, v = np.asarray(H, dtype=float), np.asarray(v, dtype=float)
    h = v.copy()
    for _ in range(iters - 1):
        h = v + h - (H @ h + damping * h) / scale
    return h / scale
