# why: uses the sum of each group's losses instead of their mean
def group_dro_step_log(losses, groups, log_q, eta):
    G = log_q.shape[0]
    group_loss = torch.zeros(G, dtype=losses.dtype).index_add(0, groups.long(), losses)
    scores = log_q + eta * group_loss.detach()
    new_log_q = scores - torch.logsumexp(scores, dim=0)
    return (torch.exp(new_log_q) * group_loss).sum(), new_log_q
