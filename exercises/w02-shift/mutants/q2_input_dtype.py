# why: never converts to float64, so float32 probabilities give a float32 estimate
def soft_bbse_priors(val_probs, val_y, target_probs):
    n, K = val_probs.shape
    onehot = F.one_hot(val_y.long(), K).to(val_probs.dtype)
    C = val_probs.T @ onehot / n
    w = torch.linalg.solve(C, target_probs.mean(dim=0))
    q = (w * onehot.mean(dim=0)).clamp_min(0.0)
    return q / q.sum()
