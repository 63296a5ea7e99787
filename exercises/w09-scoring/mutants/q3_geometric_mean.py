# why: averages log-probabilities and renormalises (a geometric mean), not probabilities
def ensemble_predictive(logit_stack):
    z = torch.as_tensor(logit_stack, dtype=torch.float64)
    g = torch.log_softmax(z, dim=2).mean(dim=0).exp()
    return g / g.sum(dim=1, keepdim=True)
