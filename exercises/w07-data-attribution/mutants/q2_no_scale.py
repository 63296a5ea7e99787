# why: LiSSA without the scale: returns h_J instead of h_J / s
def lissa_minibatch(w, X, lam, v, batches, scale):
    h = v.copy()
    for idx in batches:
        Xb = X[idx]
        s = sigmoid(Xb @ w)
        hvp = Xb.T @ ((s * (1 - s)) * (Xb @ h)) / len(idx) + lam * h
        h = v + h - hvp / scale
    return h
