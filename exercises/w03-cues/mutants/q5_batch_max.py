# why: normalises by the class maximum within the batch, not the training set
def lff_ema_step(ema_b, ema_d, updated, labels, idx, loss_b, loss_d, alpha=0.7):
    ema_b, ema_d, updated = ema_b.clone(), ema_d.clone(), updated.clone()
    keep = 1 - alpha * updated[idx]
    ema_b[idx] = alpha * ema_b[idx] + keep * loss_b
    ema_d[idx] = alpha * ema_d[idx] + keep * loss_d
    updated[idx] = 1.0
    nb, nd = ema_b[idx].clone(), ema_d[idx].clone()
    batch_labels = labels[idx]
    for c in batch_labels.unique():
        in_batch = batch_labels == c
        nb[in_batch] = nb[in_batch] / nb[in_batch].max()
        nd[in_batch] = nd[in_batch] / nd[in_batch].max()
    return ema_b, ema_d, updated, nb / (nb + nd + 1e-8)
