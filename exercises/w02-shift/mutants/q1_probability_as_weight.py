# why: weights by the probability c(x) = sigmoid(z) instead of the odds c / (1 - c)
def iw_error_estimate(domain_logits, losses, n_source, n_target):
    z = torch.as_tensor(domain_logits, dtype=torch.float64)
    losses = torch.as_tensor(losses, dtype=torch.float64)
    w = (n_source / n_target) * torch.sigmoid(z)
    return float((w * losses).mean()), float((w * losses).sum() / w.sum())
