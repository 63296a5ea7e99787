# why: multiplies the logits by T instead of dividing, so T > 1 sharpens
def temperature_by_grid(logits_val, y_val, logits_test, y_test,
                        grid=tuple(0.25 * k for k in range(1, 41))):
    def mean_nll(z, y, t):
        logp = torch.log_softmax(torch.as_tensor(z, dtype=torch.float64) * t, dim=1)
        return float(-logp[torch.arange(len(y)), torch.as_tensor(y).long()].mean())

    best = min(grid, key=lambda t: (mean_nll(logits_val, y_val, t), grid.index(t)))
    return float(best), mean_nll(logits_test, y_test, best)
