# why: forgets the minus sign of the influence function
def self_influence(w, X, y, lam):
    s = sigmoid(X @ w)
    G = (s - y)[:, None] * X
    H = (X * (s * (1 - s))[:, None]).T @ X / len(X) + lam * np.eye(X.shape[1])
    return np.einsum("ij,ji->i", G, np.linalg.solve(H, G.T))
