# why: adds the noise to the mean instead of the sum, so it is B times too large
def dp_logistic_gradient(X, y, w, b, C, sigma, noise):
    X = np.asarray(X, dtype=np.float64)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    p = 1 / (1 + np.exp(-(X @ w + b)))
    G = (p - y)[:, None] * A
    G = G / np.maximum(1.0, np.linalg.norm(G, axis=1) / C)[:, None]
    return G, G.mean(axis=0) + sigma * C * noise
