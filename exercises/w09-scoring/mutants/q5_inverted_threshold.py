# why: uses c_abs / c_err as the threshold instead of 1 - c_abs / c_err
def selective_cost(probs, y, c_err, c_abs):
    p = torch.as_tensor(probs, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    conf, pred = p.max(dim=1)
    accept = conf > c_abs / c_err
    cost = torch.where(accept, (pred != y).double() * c_err,
                       torch.full_like(conf, float(c_abs)))
    return float(cost.mean())
