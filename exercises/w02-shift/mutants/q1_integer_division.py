# why: writes the size ratio with integer division (n_source // n_target)
def iw_error_estimate(domain_logits, losses, n_source, n_target):
    z = torch.as_tensor(domain_logits, dtype=torch.float64)
    losses = torch.as_tensor(losses, dtype=torch.float64)
    w = (n_source // n_target) * torch.exp(z)
    plain = float((w * losses).mean())
    self_normalised = float((torch.softmax(z, dim=0) * losses).sum())
    return plain, self_normalised
