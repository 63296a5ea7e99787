# why: uses s and s0 where the variances s^2 and s0^2 belong in the second term
def kl_to_prior(mu, s, prior_sigma=1.0):
    mu = torch.as_tensor(mu, dtype=torch.float64)
    s = torch.as_tensor(s, dtype=torch.float64)
    s0 = float(prior_sigma)
    kl = torch.log(s0 / s) + (s + mu**2) / (2 * s0) - 0.5
    return float(kl.sum())
