# why: uses the full-data Hessian at every step and ignores the batches' indices
def lissa_minibatch(w, X, lam, v, batches, scale):
    h = v.copy()
    s = sigmoid(X @ w)
    for _ in batches:
        hvp = X.T @ ((s * (1 - s)) * (X @ h)) / len(X) + lam * h
        h = v + h - hvp / scale
    return h / scale
