# why: leaves log space (exp, normalise, log): exp(eta * loss) overflows
def group_dro_step_log(losses, groups, log_q, eta):
    G = log_q.shape[0]
    sums = torch.zeros(G, dtype=losses.dtype).index_add(0, groups.long(), losses)
    counts = torch.bincount(groups.long(), minlength=G).to(losses.dtype)
    group_loss = sums / counts.clamp(min=1)
    q = torch.exp(log_q) * torch.exp(eta * group_loss.detach())
    q = q / q.sum()
    return (q * group_loss).sum(), torch.log(q)
