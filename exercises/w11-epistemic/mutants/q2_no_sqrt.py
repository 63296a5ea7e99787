# why: divides by 1 + pi var / 8 without the square root
def probit_probability(mu, var):
    mu = torch.as_tensor(mu, dtype=torch.float64)
    var = torch.as_tensor(var, dtype=torch.float64)
    return torch.sigmoid(mu / (1 + math.pi * var / 8))
