# why: forgets the factor 1/2 in front of the whole expression
def gaussian_nll_logvar(mu, log_var, y):
    inner = math.log(2 * math.pi) + log_var + (y - mu) ** 2 * torch.exp(-log_var)
    return inner.mean()
