# why: computes in the inputs' dtype, so float32 logits give float32 accuracy
def iw_error_estimate(domain_logits, losses, n_source, n_target):
    z = torch.as_tensor(domain_logits)
    losses = torch.as_tensor(losses)
    w = (n_source / n_target) * torch.exp(z)
    plain = float((w * losses).mean())
    self_normalised = float((torch.softmax(z, dim=0) * losses).sum())
    return plain, self_normalised
