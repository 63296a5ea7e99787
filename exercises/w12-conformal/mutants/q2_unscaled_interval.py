# why: normalises the calibration scores but forgets to multiply q by sigma at test time
def normalised_interval(y_cal, mu_cal, sigma_cal, mu_test, sigma_test, alpha):
    as64 = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    s = torch.sort((as64(y_cal) - as64(mu_cal)).abs() / as64(sigma_cal)).values
    n = len(s)
    k = math.ceil(round((n + 1) * (1 - alpha), 9))
    q = math.inf if k > n else float(s[k - 1])
    mu = as64(mu_test)
    return mu - q, mu + q
