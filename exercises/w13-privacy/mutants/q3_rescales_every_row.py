# why: normalises every per-record gradient to norm C, scaling small gradients up too
def dp_logistic_gradient(X, y, w, b, C, sigma, noise):
    X = np.asarray(X, dtype=np.float64)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    p = 1 / (1 + np.exp(-(X @ w + b)))
    G = (p - y)[:, None] * A
    G = C * G / np.linalg.norm(G, axis=1, keepdims=True)
    return G, (G.sum(axis=0) + sigma * C * noise) / X.shape[0]
