# why: forgets the regulariser lam * h in the Hessian-vector product
def lissa_minibatch(w, X, lam, v, batches, scale):
    h = v.copy()
    for idx in batches:
        Xb = X[idx]
        s = sigmoid(Xb @ w)
        hvp = Xb.T @ ((s * (1 - s)) * (Xb @ h)) / len(idx)
        h = v + h - hvp / scale
    return h / scale
