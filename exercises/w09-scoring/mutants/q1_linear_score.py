# why: forgets to divide by the norm and so implements the improper linear score -p_y
def spherical_score(probs, y):
    probs = torch.as_tensor(probs, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    return float((-probs[torch.arange(probs.shape[0]), y]).mean())
