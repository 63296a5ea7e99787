# why: writes the new moving averages into the caller's tensors instead of copies
def lff_ema_step(ema_b, ema_d, updated, labels, idx, loss_b, loss_d, alpha=0.7):
    keep = 1 - alpha * updated[idx]
    ema_b[idx] = alpha * ema_b[idx] + keep * loss_b
    ema_d[idx] = alpha * ema_d[idx] + keep * loss_d
    updated[idx] = 1.0
    nb, nd = ema_b[idx].clone(), ema_d[idx].clone()
    for c in labels[idx].unique():
        in_batch = labels[idx] == c
        max_b = ema_b[labels == c].max()
        max_d = ema_d[labels == c].max()
        nb[in_batch] = nb[in_batch] / (max_b if max_b > 0 else 1.0)
        nd[in_batch] = nd[in_batch] / (max_d if max_d > 0 else 1.0)
    w = nb / (nb + nd + 1e-8)
    return ema_b, ema_d, updated, w
