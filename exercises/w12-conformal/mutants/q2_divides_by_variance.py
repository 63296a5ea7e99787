# why: divides the residuals by the variance sigma^2 and scales the interval by it
def normalised_interval(y_cal, mu_cal, sigma_cal, mu_test, sigma_test, alpha):
    as64 = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    s = torch.sort((as64(y_cal) - as64(mu_cal)).abs() / as64(sigma_cal) ** 2).values
    n = len(s)
    k = math.ceil(round((n + 1) * (1 - alpha), 9))
    q = math.inf if k > n else float(s[k - 1])
    mu, sd = as64(mu_test), as64(sigma_test)
    return mu - q * sd**2, mu + q * sd**2
