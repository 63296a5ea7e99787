# why: builds the group means with torch.tensor([...]) from Python floats, which cuts the graph
def group_dro_step_log(losses, groups, log_q, eta):
    G = log_q.shape[0]
    means = []
    for g in range(G):
        members = losses[groups == g]
        means.append(float(members.mean()) if len(members) else 0.0)
    group_loss = torch.tensor(means, dtype=losses.dtype)
    scores = log_q + eta * group_loss
    new_log_q = scores - torch.logsumexp(scores, dim=0)
    loss = (torch.exp(new_log_q) * group_loss).sum()
    return loss, new_log_q
