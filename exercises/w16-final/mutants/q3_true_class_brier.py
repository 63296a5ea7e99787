# why: takes the Brier score of the true class only, (1 - p_y)^2, and forgets the squared probabilities of the other classes
def nll_and_brier(logits, y):
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    logp = torch.log_softmax(z, dim=1)
    p_true = logp[torch.arange(len(y)), y]
    return float(-p_true.mean()), float(((1 - p_true.exp()) ** 2).mean())
