# why: forgets to divide X^T X by the noise variance in the posterior precision
def blr_predictive_variance(X, X_test, noise_var=0.1, prior_precision=1.0):
    X = torch.as_tensor(X, dtype=torch.float64)
    Xt = torch.as_tensor(X_test, dtype=torch.float64)
    d = X.shape[1]
    prec = X.T @ X + prior_precision * torch.eye(d, dtype=torch.float64)
    cov = torch.linalg.inv(prec)
    return noise_var + torch.einsum("md,de,me->m", Xt, cov, Xt)
