# why: writes the per-record gradient as (y - p)(x, 1), the negative of the loss gradient
def dp_logistic_gradient(X, y, w, b, C, sigma, noise):
    X = np.asarray(X, dtype=np.float64)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    p = 1 / (1 + np.exp(-(X @ w + b)))
    G = (y - p)[:, None] * A
    G = G / np.maximum(1.0, np.linalg.norm(G, axis=1) / C)[:, None]
    return G, (G.sum(axis=0) + sigma * C * noise) / X.shape[0]
