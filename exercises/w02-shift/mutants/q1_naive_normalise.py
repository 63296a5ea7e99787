# why: exponentiates the raw logits, so exp(1000) overflows and the self-normalised estimate is nan
def iw_error_estimate(domain_logits, losses, n_source, n_target):
    z = torch.as_tensor(domain_logits, dtype=torch.float64)
    losses = torch.as_tensor(losses, dtype=torch.float64)
    w = (n_source / n_target) * torch.exp(z)
    return float((w * losses).mean()), float((w * losses).sum() / w.sum())
