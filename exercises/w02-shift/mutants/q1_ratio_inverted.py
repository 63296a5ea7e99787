# why: uses n_target / n_source instead of n_source / n_target in the weights
def iw_error_estimate(domain_logits, losses, n_source, n_target):
    z = torch.as_tensor(domain_logits, dtype=torch.float64)
    losses = torch.as_tensor(losses, dtype=torch.float64)
    w = (n_target / n_source) * torch.exp(z)
    return float((w * losses).mean()), float((w * losses).sum() / w.sum())
