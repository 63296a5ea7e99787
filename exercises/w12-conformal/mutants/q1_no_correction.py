# why: drops the (n + 1) finite-sample correction and uses k = ceil(n (1 - alpha))
def conformal_interval(cal_residuals, mu_test, alpha):
    r = torch.sort(torch.as_tensor(cal_residuals, dtype=torch.float64)).values
    mu = torch.as_tensor(mu_test, dtype=torch.float64)
    n = len(r)
    k = math.ceil(round(n * (1 - alpha), 9))
    q = float(r[min(k, n) - 1])
    return mu - q, mu + q
