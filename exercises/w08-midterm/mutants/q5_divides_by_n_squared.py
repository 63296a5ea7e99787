# why: normalises the trace by n^2 instead of (n - 1)^2
def hsic_rbf(x, y, sigma):
    n = x.shape[0]
    K = torch.exp(-torch.cdist(x, x) ** 2 / (2 * sigma**2))
    L = torch.exp(-torch.cdist(y, y) ** 2 / (2 * sigma**2))
    H = torch.eye(n, dtype=x.dtype) - 1.0 / n
    return torch.trace(K @ H @ L @ H) / n**2
