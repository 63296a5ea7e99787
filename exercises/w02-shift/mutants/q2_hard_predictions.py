# why: counts hard argmax predictions (the chapter's BBSE) instead of using the probabilities
def soft_bbse_priors(val_probs, val_y, target_probs):
    val_probs = torch.as_tensor(val_probs, dtype=torch.float64)
    target_probs = torch.as_tensor(target_probs, dtype=torch.float64)
    val_y = torch.as_tensor(val_y).long()
    n, K = val_probs.shape
    onehot = F.one_hot(val_y, K).double()
    hard_val = F.one_hot(val_probs.argmax(1), K).double()
    hard_target = F.one_hot(target_probs.argmax(1), K).double()
    C = hard_val.T @ onehot / n
    w = torch.linalg.solve(C, hard_target.mean(0))
    q = (w * onehot.mean(0)).clamp_min(0.0)
    return q / q.sum()
