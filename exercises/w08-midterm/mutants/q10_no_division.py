# why: returns h_J itself and forgets the final division by the scale s
def lissa_solve(H, v, scale, iters, damping=0.0):
    H, v = np.asarray(H, dtype=float), np.asarray(v, dtype=float)
    h = v.copy()
    for _ in range(iters):
        h = v + h - (H @ h + damping * h) / scale
    return h
