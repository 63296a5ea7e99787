# why: uses the interpolated empirical quantile at 1 - alpha instead of the k-th score
def conformal_interval(cal_residuals, mu_test, alpha):
    r = torch.as_tensor(cal_residuals, dtype=torch.float64)
    mu = torch.as_tensor(mu_test, dtype=torch.float64)
    q = float(torch.quantile(r, 1 - alpha))
    return mu - q, mu + q
