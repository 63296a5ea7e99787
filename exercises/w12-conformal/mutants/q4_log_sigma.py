# why: reads the output as log sigma, not log sigma^2 (variance exp(2 v), not exp(v))
def gaussian_nll_logvar(mu, log_var, y):
    return 0.5 * (math.log(2 * math.pi) + 2 * log_var
                  + (y - mu) ** 2 * torch.exp(-2 * log_var)).mean()
