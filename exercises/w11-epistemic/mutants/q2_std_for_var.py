# why: treats var as a standard deviation and squares it again
def probit_probability(mu, var):
    mu = torch.as_tensor(mu, dtype=torch.float64)
    var = torch.as_tensor(var, dtype=torch.float64)
    return torch.sigmoid(mu / torch.sqrt(1 + math.pi * var**2 / 8))
