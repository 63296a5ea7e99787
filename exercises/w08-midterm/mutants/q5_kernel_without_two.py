# why: uses the kernel exp(-d^2 / sigma^2), dropping the factor 2 of the definition
def hsic_rbf(x, y, sigma):
    n = x.shape[0]
    K = torch.exp(-torch.cdist(x, x) ** 2 / sigma**2)
    L = torch.exp(-torch.cdist(y, y) ** 2 / sigma**2)
    H = torch.eye(n, dtype=x.dtype) - 1.0 / n
    return torch.trace(K @ H @ L @ H) / (n - 1) ** 2
