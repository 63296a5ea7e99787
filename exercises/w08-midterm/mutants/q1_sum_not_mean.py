# why: sums the weighted losses instead of averaging them over the n samples
def weighted_cross_entropy(logits, y, w):
    top = logits.max(dim=1, keepdim=True).values
    log_z = top.squeeze(1) + torch.log(torch.exp(logits - top).sum(dim=1))
    picked = logits[torch.arange(logits.shape[0]), y.long()]
    return (w.to(logits.dtype) * (log_z - picked)).sum()
