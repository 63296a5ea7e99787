# why: forgets to subtract the log-sum-exp, so exp(new_log_q) no longer sums to 1
def group_dro_step_log(losses, groups, log_q, eta):
    G = log_q.shape[0]
    sums = torch.zeros(G, dtype=losses.dtype).index_add(0, groups.long(), losses)
    counts = torch.bincount(groups.long(), minlength=G).to(losses.dtype)
    group_loss = sums / counts.clamp(min=1)
    new_log_q = log_q + eta * group_loss.detach()
    return (torch.exp(new_log_q) * group_loss).sum(), new_log_q
