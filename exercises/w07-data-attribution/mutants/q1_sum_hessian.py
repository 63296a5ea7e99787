# why: builds the Hessian of the summed loss (no 1/n) but keeps lam for the mean objective
def self_influence(w, X, y, lam):
    s = sigmoid(X @ w)
    G = (s - y)[:, None] * X
    H = (X * (s * (1 - s))[:, None]).T @ X + lam * np.eye(X.shape[1])
    return -np.einsum("ij,ji->i", G, np.linalg.solve(H, G.T))
