# why: skips the moving averages and weights by the raw batch losses
def lff_ema_step(ema_b, ema_d, updated, labels, idx, loss_b, loss_d, alpha=0.7):
    ema_b, ema_d, updated = ema_b.clone(), ema_d.clone(), updated.clone()
    ema_b[idx] = loss_b
    ema_d[idx] = loss_d
    updated[idx] = 1.0
    w = loss_b / (loss_b + loss_d + 1e-8)
    return ema_b, ema_d, updated, w
