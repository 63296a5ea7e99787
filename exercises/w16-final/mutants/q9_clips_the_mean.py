# why: clips the averaged gradient once instead of each per-sample gradient, so one sample's influence is not bounded
def dp_noisy_mean(grads, C, sigma, noise):
    g = torch.as_tensor(grads, dtype=torch.float64)
    summed = g.sum(dim=0)
    length = float(torch.linalg.vector_norm(summed / g.shape[0]))
    summed = summed * min(1.0, C / length) if length > 0 else summed
    noisy = summed + sigma * C * torch.as_tensor(noise, dtype=torch.float64)
    return noisy / g.shape[0]
