# why: adds noise of std sigma instead of sigma * C, which is only right for C = 1
def dp_noisy_mean(grads, C, sigma, noise):
    g = torch.as_tensor(grads, dtype=torch.float64)
    lengths = torch.linalg.vector_norm(g, dim=1, keepdim=True)
    factor = torch.clamp(C / torch.clamp(lengths, min=1e-300), max=1.0)
    summed = (g * factor).sum(dim=0)
    return (summed + sigma * torch.as_tensor(noise, dtype=torch.float64)) / g.shape[0]
