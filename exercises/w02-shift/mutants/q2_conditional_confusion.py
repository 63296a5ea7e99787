# why: normalises the confusion matrix to P(yhat | y), so the solve already gives q and multiplying by p_S double-counts the priors
def soft_bbse_priors(val_probs, val_y, target_probs):
    val_probs = torch.as_tensor(val_probs, dtype=torch.float64)
    target_probs = torch.as_tensor(target_probs, dtype=torch.float64)
    val_y = torch.as_tensor(val_y).long()
    n, K = val_probs.shape
    onehot = F.one_hot(val_y, K).double()
    C = val_probs.T @ onehot / onehot.sum(0)
    w = torch.linalg.solve(C, target_probs.mean(0))
    q = (w * onehot.mean(0)).clamp_min(0.0)
    return q / q.sum()
