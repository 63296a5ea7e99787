# why: divides by the sum of the weights (self-normalised) instead of by n, as stated
def weighted_cross_entropy(logits, y, w):
    top = logits.max(dim=1, keepdim=True).values
    log_z = top.squeeze(1) + torch.log(torch.exp(logits - top).sum(dim=1))
    picked = logits[torch.arange(logits.shape[0]), y.long()]
    w = w.to(logits.dtype)
    return (w * (log_z - picked)).sum() / w.sum()
