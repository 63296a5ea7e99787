# why: drops the Hessian and returns -|g_i|^2 (a gradient-norm score)
def self_influence(w, X, y, lam):
    s = sigmoid(X @ w)
    G = (s - y)[:, None] * X
    return -(G**2).sum(1)
