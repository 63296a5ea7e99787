# why: returns only the mean absolute error of the samples, ignoring their spread
def crps_ensemble(samples, y):
    x = torch.as_tensor(samples, dtype=torch.float64)
    t = torch.as_tensor(y, dtype=torch.float64)
    return (x - t[:, None]).abs().mean(dim=1)
