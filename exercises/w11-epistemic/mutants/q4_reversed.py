# why: computes the reverse divergence KL(p || q) instead of KL(q || p)
def kl_to_prior(mu, s, prior_sigma=1.0):
    mu = torch.as_tensor(mu, dtype=torch.float64)
    s = torch.as_tensor(s, dtype=torch.float64)
    s0 = float(prior_sigma)
    kl = torch.log(s / s0) + (s0**2 + mu**2) / (2 * s**2) - 0.5
    return float(kl.sum())
