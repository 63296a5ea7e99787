# why: renormalises without clipping negative estimates to zero
def soft_bbse_priors(val_probs, val_y, target_probs):
    val_probs = torch.as_tensor(val_probs, dtype=torch.float64)
    target_probs = torch.as_tensor(target_probs, dtype=torch.float64)
    val_y = torch.as_tensor(val_y).long()
    n, K = val_probs.shape
    onehot = F.one_hot(val_y, K).double()
    C = val_probs.T @ onehot / n
    w = torch.linalg.solve(C, target_probs.mean(0))
    q = w * onehot.mean(0)
    return q / q.sum()
