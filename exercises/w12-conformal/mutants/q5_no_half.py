# why: subtracts the full spread E|X - X'| instead of half of it
def crps_ensemble(samples, y):
    x = torch.as_tensor(samples, dtype=torch.float64)
    t = torch.as_tensor(y, dtype=torch.float64)
    first = (x - t[:, None]).abs().mean(dim=1)
    second = (x[:, :, None] - x[:, None, :]).abs().mean(dim=(1, 2))
    return first - second
